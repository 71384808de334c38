package sqlstore

import (
	"context"

	"github.com/ordergate/ordergate/internal/intake"
)

var _ intake.SourceLister = (*DB)(nil)

// Sources returns every registered source, revoked ones too, by channel
// and name.
func (db *DB) Sources(ctx context.Context) ([]*intake.Source, error) {
	rows, err := db.query(ctx, `SELECT `+sourceColumns+` FROM sources ORDER BY channel, name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*intake.Source
	for rows.Next() {
		s, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
