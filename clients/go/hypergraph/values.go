package hypergraph

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"

	"google.golang.org/protobuf/types/known/structpb"
)

// maxExactInt is 2^53: the largest range in which a float64 (the only number
// type of google.protobuf.Value) holds every integer exactly.
const maxExactInt = 1 << 53

// ToStruct converts a native map into a google.protobuf.Struct.
// Accepted values: nil, bool, every int and uint kind (within ±2^53, else an
// error: a Struct number is a double and would silently round), float32/64,
// string, []byte (base64 text, as structpb does), json.Number, maps with string
// keys and slices/arrays of any of these. Anything else is an error naming
// the offending key.
func ToStruct(values map[string]any) (*structpb.Struct, error) { return toStruct(values, "") }

// toStruct names offending keys with prefix (e.g. "values." or "info.").
func toStruct(values map[string]any, prefix string) (*structpb.Struct, error) {
	out := &structpb.Struct{Fields: make(map[string]*structpb.Value, len(values))}
	for k, v := range values {
		pv, err := toValue(v, prefix+k)
		if err != nil {
			return nil, err
		}
		out.Fields[k] = pv
	}
	return out, nil
}

// ToValue converts one native value into a google.protobuf.Value (see ToStruct).
func ToValue(v any) (*structpb.Value, error) { return toValue(v, "value") }

// FromStruct converts a google.protobuf.Struct into a native map. Numbers that
// are integral and within ±2^53 become int64, the others float64; a nil
// Struct gives an empty (non-nil) map.
func FromStruct(s *structpb.Struct) map[string]any {
	out := make(map[string]any, len(s.GetFields()))
	for k, v := range s.GetFields() {
		out[k] = FromValue(v)
	}
	return out
}

// FromValue converts a google.protobuf.Value into a native value: nil, bool,
// int64 or float64 (see FromStruct), string, []any or map[string]any.
func FromValue(v *structpb.Value) any {
	switch k := v.GetKind().(type) {
	case *structpb.Value_BoolValue:
		return k.BoolValue
	case *structpb.Value_NumberValue:
		return number(k.NumberValue)
	case *structpb.Value_StringValue:
		return k.StringValue
	case *structpb.Value_ListValue:
		items := k.ListValue.GetValues()
		out := make([]any, len(items))
		for i, item := range items {
			out[i] = FromValue(item)
		}
		return out
	case *structpb.Value_StructValue:
		return FromStruct(k.StructValue)
	default: // NullValue or unset
		return nil
	}
}

// number turns a Struct double back into the int it was sent as, when it can be one.
func number(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) <= maxExactInt {
		return int64(f)
	}
	return f
}

func toValue(v any, path string) (*structpb.Value, error) {
	switch x := v.(type) {
	case nil:
		return structpb.NewNullValue(), nil
	case bool:
		return structpb.NewBoolValue(x), nil
	case string:
		return structpb.NewStringValue(x), nil
	case float64:
		return structpb.NewNumberValue(x), nil
	case float32:
		return structpb.NewNumberValue(float64(x)), nil
	case []byte:
		return structpb.NewValue(x) // base64 text, structpb's own rule
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("hypergraph: %s: %q is not a number: %w", path, x, err)
		}
		return structpb.NewNumberValue(f), nil
	case *structpb.Value:
		return x, nil
	case map[string]any:
		return mapValue(x, path)
	case []any:
		return listValue(reflect.ValueOf(x), path)
	}
	return reflectValue(reflect.ValueOf(v), path)
}

// reflectValue handles the kinds a type switch cannot list: every int/uint
// kind, named types, typed slices and maps.
func reflectValue(rv reflect.Value, path string) (*structpb.Value, error) {
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intValue(rv.Int(), path)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if rv.Uint() > maxExactInt {
			return nil, intRangeError(path, rv.Interface())
		}
		return structpb.NewNumberValue(float64(rv.Uint())), nil
	case reflect.Float32, reflect.Float64:
		return structpb.NewNumberValue(rv.Float()), nil
	case reflect.Bool:
		return structpb.NewBoolValue(rv.Bool()), nil
	case reflect.String:
		return structpb.NewStringValue(rv.String()), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return structpb.NewNullValue(), nil
		}
		return listValue(rv, path)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("hypergraph: %s: map keys must be strings, got %s", path, rv.Type().Key())
		}
		m := make(map[string]any, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			m[it.Key().String()] = it.Value().Interface()
		}
		return mapValue(m, path)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return structpb.NewNullValue(), nil
		}
		return toValue(rv.Elem().Interface(), path)
	}
	return nil, fmt.Errorf("hypergraph: %s: cannot send a %T as a protobuf Value; use nil, bool, a number, string, []any or map[string]any", path, rv.Interface())
}

func intValue(i int64, path string) (*structpb.Value, error) {
	if i > maxExactInt || i < -maxExactInt {
		return nil, intRangeError(path, i)
	}
	return structpb.NewNumberValue(float64(i)), nil
}

func intRangeError(path string, v any) error {
	return fmt.Errorf("hypergraph: %s: integer %v is outside ±2^53 and would lose precision as a protobuf number; send it as a string", path, v)
}

func listValue(rv reflect.Value, path string) (*structpb.Value, error) {
	items := make([]*structpb.Value, rv.Len())
	for i := range items {
		item, err := toValue(rv.Index(i).Interface(), fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		items[i] = item
	}
	return structpb.NewListValue(&structpb.ListValue{Values: items}), nil
}

func mapValue(m map[string]any, path string) (*structpb.Value, error) {
	fields := make(map[string]*structpb.Value, len(m))
	for k, v := range m {
		fv, err := toValue(v, path+"."+k)
		if err != nil {
			return nil, err
		}
		fields[k] = fv
	}
	return structpb.NewStructValue(&structpb.Struct{Fields: fields}), nil
}
