package sqlstore

import (
	"context"

	"github.com/ordergate/ordergate/internal/intake"
)

var _ intake.SourceLister = (*DB)(nil)

// Sources returns every registered source, revoked ones too, by channel
// and name.
func (db *DB) Sources(ctx context.Context) ([]*intake.Source, error) {
	return queryAll(ctx, db, scanSource, `SELECT `+sourceColumns+` FROM sources ORDER BY channel, name`)
}
