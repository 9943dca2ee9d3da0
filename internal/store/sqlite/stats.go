package sqlite

import "database/sql"

// Stats returns the statistics of the write connection and of the read pool,
// for the server's metrics.
func (s *Store) Stats() (write, read sql.DBStats) {
	return s.write.Stats(), s.read.Stats()
}
