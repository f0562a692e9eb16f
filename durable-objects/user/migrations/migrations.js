import journal from './meta/_journal.json';
import m0000 from './0000_young_masque.sql';
import m0001 from './0001_live_inbox.sql';
import m0002 from './0002_watchers_without_expiry.sql';
import m0003 from './0003_room_mute.sql';
import m0004 from './0004_audit_log.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002,
m0003,
m0004
    }
  }
  