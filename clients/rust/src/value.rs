//! Conversion between native JSON values (`serde_json::Value`) and the
//! protobuf `Struct`/`Value` the contract carries.
//!
//! Protobuf numbers are doubles. Going out, integers are sent as doubles and
//! must fit in 2^53 to arrive exactly (larger ones are refused, never rounded).
//! Coming back, an integral double within 2^53 becomes an integer again, so a
//! graph returning `42` gives `json!(42)`, not `json!(42.0)`.

use std::collections::{BTreeMap, HashMap};

use prost_types::value::Kind;
use serde_json::{Map, Number, Value};

use crate::error::Error;

/// 2^53: the largest magnitude below which every integer is an exact double.
pub const MAX_SAFE_INTEGER: i64 = 1 << 53;

/// Turns a native value into a protobuf `Value`; `path` names it in errors.
pub fn to_proto_value(value: &Value, path: &str) -> Result<prost_types::Value, Error> {
    let kind = match value {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(number_to_f64(n, path)?),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items
                .iter()
                .enumerate()
                .map(|(i, v)| to_proto_value(v, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        }),
        Value::Object(map) => Kind::StructValue(to_proto_struct(map, path)?),
    };
    Ok(prost_types::Value { kind: Some(kind) })
}

/// Turns a JSON object into a protobuf `Struct`; `path` prefixes field names in errors.
pub fn to_proto_struct(map: &Map<String, Value>, path: &str) -> Result<prost_types::Struct, Error> {
    let fields =
        map.iter().map(|(k, v)| Ok((k.clone(), to_proto_value(v, &join(path, k))?))).collect::<Result<_, Error>>()?;
    Ok(prost_types::Struct { fields })
}

/// Turns a protobuf `Value` into a native one (integral doubles within 2^53 become ints).
pub fn from_proto_value(value: &prost_types::Value) -> Value {
    match &value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(*b),
        Some(Kind::NumberValue(f)) => number_from_f64(*f),
        Some(Kind::StringValue(s)) => Value::String(s.clone()),
        Some(Kind::ListValue(list)) => Value::Array(list.values.iter().map(from_proto_value).collect()),
        Some(Kind::StructValue(s)) => Value::Object(from_proto_struct(s)),
    }
}

/// Turns a protobuf `Struct` into a JSON object.
pub fn from_proto_struct(s: &prost_types::Struct) -> Map<String, Value> {
    s.fields.iter().map(|(k, v)| (k.clone(), from_proto_value(v))).collect()
}

/// Like [`from_proto_struct`] for an optional field: unset gives an empty object.
pub fn from_optional_struct(s: Option<&prost_types::Struct>) -> Map<String, Value> {
    s.map(from_proto_struct).unwrap_or_default()
}

fn number_to_f64(n: &Number, path: &str) -> Result<f64, Error> {
    if let Some(i) = n.as_i64() {
        return exact_int(i as i128, path);
    }
    if let Some(u) = n.as_u64() {
        return exact_int(u as i128, path);
    }
    // serde_json only holds finite floats, so this is always a plain double.
    Ok(n.as_f64().unwrap_or(f64::NAN))
}

fn exact_int(i: i128, path: &str) -> Result<f64, Error> {
    if i.abs() > MAX_SAFE_INTEGER as i128 {
        return Err(Error::InvalidValue(format!(
            "{path} = {i}: integers beyond 2^53 cannot be sent exactly as protobuf numbers (doubles); \
             send it as a string instead"
        )));
    }
    Ok(i as f64)
}

/// An integral double within 2^53 becomes an integer. Non-finite doubles have no
/// JSON form and become null (the server's codec never sends them).
pub fn number_from_f64(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= MAX_SAFE_INTEGER as f64 {
        return Value::Number(Number::from(f as i64));
    }
    Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The graph inputs of a call: a JSON object, or a map of names to values.
///
/// Implemented for `serde_json::Value` (an object, or null for no inputs),
/// `serde_json::Map`, `HashMap<String, Value>` and `BTreeMap<String, Value>`.
pub trait IntoValues {
    /// Returns the inputs as a JSON object, or an error naming what is wrong.
    fn into_value_map(self) -> Result<Map<String, Value>, Error>;
}

impl IntoValues for Value {
    fn into_value_map(self) -> Result<Map<String, Value>, Error> {
        match self {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(Map::new()),
            other => Err(Error::InvalidValue(format!(
                "values must be a JSON object of input names to values, got {other}; \
                 wrap it like json!({{\"name\": ...}})"
            ))),
        }
    }
}

impl IntoValues for Map<String, Value> {
    fn into_value_map(self) -> Result<Map<String, Value>, Error> {
        Ok(self)
    }
}

impl<S: std::hash::BuildHasher> IntoValues for HashMap<String, Value, S> {
    fn into_value_map(self) -> Result<Map<String, Value>, Error> {
        Ok(self.into_iter().collect())
    }
}

impl IntoValues for BTreeMap<String, Value> {
    fn into_value_map(self) -> Result<Map<String, Value>, Error> {
        Ok(self.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(v: Value) -> Value {
        from_proto_value(&to_proto_value(&v, "values").unwrap())
    }

    #[test]
    fn ints_stay_ints() {
        assert_eq!(round_trip(json!(42)), json!(42));
        assert!(round_trip(json!(42)).is_i64());
        assert_eq!(round_trip(json!(-7)), json!(-7));
        assert_eq!(round_trip(json!(MAX_SAFE_INTEGER)), json!(MAX_SAFE_INTEGER));
    }

    #[test]
    fn floats_stay_floats() {
        assert_eq!(round_trip(json!(1.5)), json!(1.5));
        assert!(round_trip(json!(1.5)).is_f64());
    }

    #[test]
    fn integral_double_from_server_becomes_int() {
        assert_eq!(number_from_f64(42.0), json!(42));
        assert!(number_from_f64(42.0).is_i64());
        assert_eq!(number_from_f64(-0.0), json!(0));
    }

    #[test]
    fn doubles_beyond_2_pow_53_stay_floats() {
        let big = 2f64.powi(60);
        assert!(number_from_f64(big).is_f64());
    }

    #[test]
    fn non_finite_becomes_null() {
        assert_eq!(number_from_f64(f64::NAN), Value::Null);
        assert_eq!(number_from_f64(f64::INFINITY), Value::Null);
    }

    #[test]
    fn nested_values_round_trip() {
        let v = json!({"n": 7, "x": 1.5, "s": "héllo", "b": true, "l": [1, "two", null], "none": null,
                       "o": {"deep": [{"k": 3}]}});
        assert_eq!(round_trip(v.clone()), v);
    }

    #[test]
    fn big_int_is_refused_with_its_path() {
        let err = to_proto_value(&json!({"a": {"b": [1, 9007199254740993u64]}}), "values").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("values.a.b[1]"), "{text}");
        assert!(text.contains("9007199254740993"), "{text}");
    }

    #[test]
    fn unset_kind_is_null() {
        assert_eq!(from_proto_value(&prost_types::Value { kind: None }), Value::Null);
    }

    #[test]
    fn into_values_accepts_maps_and_objects() {
        let mut h = HashMap::new();
        h.insert("a".to_string(), json!(1));
        assert_eq!(h.into_value_map().unwrap(), json!({"a": 1}).into_value_map().unwrap());
        assert!(Value::Null.into_value_map().unwrap().is_empty());
        let err = json!([1, 2]).into_value_map().unwrap_err();
        assert!(err.to_string().contains("JSON object"), "{err}");
    }
}
