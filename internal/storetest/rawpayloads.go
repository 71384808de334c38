package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/ordergate/ordergate"
	"github.com/ordergate/ordergate/internal/intake"
	"github.com/ordergate/ordergate/internal/sqlstore"
)

// testRawPayloads stores a body in chunks and streams it back, and takes
// in orders of one payload in a batch.
func testRawPayloads(t *testing.T, db *sqlstore.DB) {
	src := &intake.Source{Channel: "csv", Name: "uploads"}
	if err := db.CreateSource(ctx, src, orderEvent("source.created")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		chunks []string
		finish bool
	}{
		{"several chunks", []string{"order_id,sku,quantity,unit_price\n", "1,A,1,1.00\n", "2,B,2,2.50\n"}, true},
		{"one chunk", []string{"order_id,sku,quantity,unit_price\n1,A,1,1.00\n"}, true},
		{"no chunk", nil, true},
		{"broken off", []string{"order_id,sku,quantity,unit_price\n", "1,A,1"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := &intake.Raw{SourceID: src.ID, ContentType: "text/csv"}
			if err := db.CreatePayload(ctx, raw); err != nil || raw.ID == "" {
				t.Fatalf("CreatePayload = %v, id %q", err, raw.ID)
			}
			var want bytes.Buffer
			for i, c := range tc.chunks {
				if err := db.AppendPayload(ctx, raw.ID, int64(i), []byte(c)); err != nil {
					t.Fatalf("AppendPayload(%d): %v", i, err)
				}
				want.WriteString(c)
			}
			sum := sha256.Sum256(want.Bytes())
			if tc.finish {
				if err := db.FinishPayload(ctx, raw.ID, int64(want.Len()), hex.EncodeToString(sum[:])); err != nil {
					t.Fatalf("FinishPayload: %v", err)
				}
			}
			var got bytes.Buffer
			info, err := db.WriteRawPayload(ctx, raw.ID, &got)
			if err != nil {
				t.Fatalf("WriteRawPayload: %v", err)
			}
			if got.String() != want.String() {
				t.Errorf("WriteRawPayload wrote %q, want %q", got.String(), want.String())
			}
			wantSum, wantSize := hex.EncodeToString(sum[:]), int64(want.Len())
			if !tc.finish {
				wantSum, wantSize = "", 0
			}
			if !info.Chunked || info.SHA256 != wantSum || info.Size != wantSize || info.SourceID != src.ID || info.ContentType != "text/csv" {
				t.Errorf("WriteRawPayload info = %+v, want chunked, size %d, sha256 %q", info, wantSize, wantSum)
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		raw := &intake.Raw{SourceID: src.ID, ContentType: "text/csv"}
		if err := db.CreatePayload(ctx, raw); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendPayload(ctx, raw.ID, 0, []byte("a")); err != nil {
			t.Fatal(err)
		}
		if err := db.AppendPayload(ctx, raw.ID, 0, []byte("b")); ordergate.ErrorCode(err) != ordergate.ECONFLICT {
			t.Errorf("AppendPayload of a stored chunk = %v, want %s", err, ordergate.ECONFLICT)
		}
		if err := db.FinishPayload(ctx, "raw_nope", 1, "00"); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
			t.Errorf("FinishPayload(unknown) = %v, want %s", err, ordergate.ENOTFOUND)
		}
		if _, err := db.WriteRawPayload(ctx, "raw_nope", &bytes.Buffer{}); ordergate.ErrorCode(err) != ordergate.ENOTFOUND {
			t.Errorf("WriteRawPayload(unknown) = %v, want %s", err, ordergate.ENOTFOUND)
		}
	})

	t.Run("unchunked", func(t *testing.T) {
		st, err := db.IngestOrder(ctx, ingest(src.ID, sampleOrder("4000"), "h", "d-unchunked"))
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		info, err := db.WriteRawPayload(ctx, st.Order.RawPayloadID, &got)
		if err != nil || got.String() != `{"id":1}` || info.Chunked || info.Size != 8 {
			t.Errorf("WriteRawPayload(unchunked) = %+v, %q, %v; want the body, size 8", info, got.String(), err)
		}
	})

	t.Run("IngestOrders", func(t *testing.T) {
		raw := &intake.Raw{SourceID: src.ID, ContentType: "text/csv"}
		if err := db.CreatePayload(ctx, raw); err != nil {
			t.Fatal(err)
		}
		batch := func(exts ...string) []intake.Ingest {
			var ins []intake.Ingest
			for _, ext := range exts {
				in := ingest(src.ID, sampleOrder(ext), "h-"+ext, "")
				in.Raw = raw
				ins = append(ins, in)
			}
			return ins
		}
		sts, err := db.IngestOrders(ctx, batch("5001", "5002", "5003"))
		if err != nil || len(sts) != 3 {
			t.Fatalf("IngestOrders = %v, %v", sts, err)
		}
		for i, st := range sts {
			if !st.Created || st.Order.RawPayloadID != raw.ID {
				t.Errorf("IngestOrders[%d] = %+v, want created with raw payload %s", i, st, raw.ID)
			}
		}
		sts, err = db.IngestOrders(ctx, batch("5001", "5004"))
		if err != nil || sts[0].Created || sts[0].Updated || !sts[1].Created {
			t.Errorf("IngestOrders(duplicate, new) = %+v, %v; want a duplicate and a new order", sts, err)
		}
		if n := countRows(t, db, `SELECT count(*) FROM orders WHERE raw_payload_id = $1`, raw.ID); n != 4 {
			t.Errorf("orders of the payload = %d, want 4", n)
		}
	})
}
