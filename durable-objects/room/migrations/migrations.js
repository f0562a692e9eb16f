import journal from './meta/_journal.json';
import m0000 from './0000_remarkable_nextwave.sql';
import m0001 from './0001_live_reads.sql';
import m0002 from './0002_search.sql';
import m0003 from './0003_files.sql';
import m0004 from './0004_search_prefix.sql';
import m0005 from './0005_audit_log.sql';
import m0006 from './0006_legal_hold_copies.sql';
import m0007 from './0007_recalled_by.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002,
m0003,
m0004,
m0005,
m0006,
m0007
    }
  }
  