package channeljson

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzRead checks Read against encoding/json: it accepts the same
// documents, and reads the same values from them.
func FuzzRead(f *testing.F) {
	fixtures, err := filepath.Glob("../*/testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range fixtures {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{"a": "\ud800\u0041", "a": [1, -0.5e+3, true, null]}`, "[\"\xff\", {\"\\u00e9\": {}}]", `01`, `"\u12"`, ` 1 `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got any
		err := Read(data, nil, func(top Value) { got = top.r.tree(top.at) })
		if valid := json.Valid(data); (err == nil) != valid {
			t.Fatalf("Read(%q) error = %v, but json.Valid = %v", data, err, valid)
		}
		if err != nil {
			return
		}
		var want any
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		if err := d.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Read(%q) = %#v, encoding/json decodes %#v", data, got, want)
		}
	})
}

// tree decodes node i as encoding/json decodes into an any, with numbers
// as json.Number.
func (r *reader) tree(i int) any {
	n := r.nodes[i]
	switch n.kind {
	case '{':
		m := make(map[string]any)
		for k := i + 1; k < int(n.next); k = int(r.nodes[k+1].next) {
			m[r.str(k)] = r.tree(k + 1)
		}
		return m
	case '[':
		a := make([]any, 0, n.n)
		for e := i + 1; e < int(n.next); e = int(r.nodes[e].next) {
			a = append(a, r.tree(e))
		}
		return a
	case '"':
		return r.str(i)
	case '0':
		return json.Number(r.text(i))
	case 't', 'f':
		return n.kind == 't'
	}
	return nil
}

// BenchmarkValid times the scanner alone on the JSON channels' fixtures.
func BenchmarkValid(b *testing.B) {
	for _, name := range []string{"../shopify/testdata/python-order.json", "../woocommerce/testdata/v3-retrieve-order.json", "../amazon/testdata/getOrder-sandbox-200.json"} {
		data, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(name), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				if err := Valid(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
