import journal from './meta/_journal.json';
import m0000 from './0000_mirror.sql';
import m0001 from './0001_mirror_search.sql';
import m0002 from './0002_mirror_channel_sends.sql';
import m0003 from './0003_mirror_sends_without_text.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002,
m0003
    }
  }
  