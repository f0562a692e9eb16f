import journal from './meta/_journal.json';
import m0000 from './0000_eminent_korvac.sql';
import m0001 from './0001_nosy_gamma_corps.sql';
import m0002 from './0002_directory_feed.sql';
import m0003 from './0003_mirrors.sql';
import m0004 from './0004_invites.sql';
import m0005 from './0005_avatars.sql';
import m0006 from './0006_audit_log.sql';
import m0007 from './0007_mfa_sso.sql';
import m0008 from './0008_visitor_sessions.sql';

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
m0007,
m0008
    }
  }
  