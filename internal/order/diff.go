package order

import (
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
)

// Change is one field that differs between two versions of an order.
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// Diff returns the fields of the canonical JSON that differ between
// before and after, keyed by JSON path ("customer.email",
// "lines[1].quantity", "lines.length" when the number of lines changed). The
// bookkeeping fields (updated_at, modified_by, approvals) are left out.
func Diff(before, after *Order) map[string]Change {
	a, b := flatten(before), flatten(after)
	out := map[string]Change{}
	for k, av := range a {
		if bv, ok := b[k]; !ok || !reflect.DeepEqual(av, bv) {
			out[k] = Change{Before: av, After: b[k]}
		}
	}
	for k, bv := range b {
		if _, ok := a[k]; !ok {
			out[k] = Change{Before: nil, After: bv}
		}
	}
	for _, k := range []string{"updated_at", "modified_by", "approvals"} {
		delete(out, k)
	}
	return out
}

// flatten maps the JSON paths of o's leaf values to the values; an
// array also gives its length under "path.length".
func flatten(o *Order) map[string]any {
	out := map[string]any{}
	if o == nil {
		return out
	}
	b, err := json.Marshal(o)
	if err != nil {
		return out
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return out
	}
	walk("", v, out)
	return out
}

func walk(path string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walk(p, x[k], out)
		}
	case []any:
		out[path+".length"] = len(x)
		for i, e := range x {
			walk(path+"["+strconv.Itoa(i)+"]", e, out)
		}
	default:
		out[path] = v
	}
}
