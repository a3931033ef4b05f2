package hypergraph

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

func TestValuesRoundTrip(t *testing.T) {
	in := map[string]any{
		"int":     7,
		"neg":     int64(-3),
		"uint8":   uint8(200),
		"float":   1.5,
		"f32":     float32(0.25),
		"str":     "héllo",
		"bool":    true,
		"nil":     nil,
		"list":    []any{1, "two", nil},
		"strings": []string{"a", "b"},
		"nested":  map[string]any{"n": 1, "m": map[string]int{"k": 2}},
		"big":     int64(1 << 53),
		"number":  json.Number("12"),
	}
	s, err := ToStruct(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"int":     int64(7),
		"neg":     int64(-3),
		"uint8":   int64(200),
		"float":   1.5,
		"f32":     0.25,
		"str":     "héllo",
		"bool":    true,
		"nil":     nil,
		"list":    []any{int64(1), "two", nil},
		"strings": []any{"a", "b"},
		"nested":  map[string]any{"n": int64(1), "m": map[string]any{"k": int64(2)}},
		"big":     int64(1 << 53),
		"number":  int64(12),
	}
	if got := FromStruct(s); !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip:\n got  %#v\n want %#v", got, want)
	}
}

func TestIntegralFloatsBecomeInts(t *testing.T) {
	cases := []struct {
		in   float64
		want any
	}{
		{42, int64(42)},
		{-1, int64(-1)},
		{0, int64(0)},
		{1.5, 1.5},
		{1 << 53, int64(1 << 53)},
		{1 << 54, float64(1 << 54)}, // outside 2^53: not exactly an int any more
		{math.Inf(1), math.Inf(1)},
	}
	for _, c := range cases {
		if got := FromValue(structpb.NewNumberValue(c.in)); got != c.want {
			t.Errorf("FromValue(%v) = %#v, want %#v", c.in, got, c.want)
		}
	}
}

func TestToStructRejectsLossyOrUnknownValues(t *testing.T) {
	cases := map[string]struct {
		value any
		want  string
	}{
		"int beyond 2^53":  {int64(1<<53 + 1), "values.x: integer 9007199254740993 is outside"},
		"uint beyond 2^53": {uint64(1 << 60), "outside ±2^53"},
		"channel":          {make(chan int), "cannot send a chan int"},
		"int map keys":     {map[int]string{1: "a"}, "map keys must be strings"},
		"nested path":      {[]any{map[string]any{"y": struct{}{}}}, "values.x[0].y"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := toStruct(map[string]any{"x": c.value}, "values.")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestNilStructIsEmptyMap(t *testing.T) {
	if got := FromStruct(nil); got == nil || len(got) != 0 {
		t.Fatalf("FromStruct(nil) = %#v, want an empty map", got)
	}
}
