//! Metadata policy (OpenID Federation 1.0 §6.1): the operators `value`,
//! `add`, `default`, `one_of`, `subset_of`, `superset_of` and `essential`,
//! merged from the trust anchor down and applied to the leaf's metadata.
//!
//! Invariants:
//! - Merging never loosens a superior's policy: `value`/`default` must agree,
//!   `one_of`/`subset_of` intersect, `add`/`superset_of` unite, and an
//!   `essential: true` cannot be turned off; anything else is a
//!   [`FederationError::PolicyConflict`].
//! - A merged policy is checked for combinations the specification forbids
//!   (`add` outside `subset_of`, `value` outside `one_of`, …) before use.
//! - Applying is in the fixed order value, add, default, one_of, subset_of,
//!   superset_of, essential. Array operators on a non-array parameter are a
//!   violation: a string is never read as a set of letters (the reference
//!   implementation's `scope` quirk).
//! - An unknown operator is ignored unless a statement of the chain lists it
//!   in `metadata_policy_crit`, which makes it an error.
//! - Array values compare as sets where the specification says so
//!   (`value` equality); `subset_of` keeps the metadata's own order.

use josekit::{Map, Value};

use crate::FederationError;

/// The operators of one metadata parameter.
#[derive(Clone, Debug, Default, PartialEq)]
struct Operators {
    value: Option<Value>,
    add: Option<Vec<Value>>,
    default: Option<Value>,
    one_of: Option<Vec<Value>>,
    subset_of: Option<Vec<Value>>,
    superset_of: Option<Vec<Value>>,
    essential: Option<bool>,
}

/// What a conflict is about, for the error.
struct Place<'a> {
    entity_type: &'a str,
    parameter: &'a str,
}

impl Place<'_> {
    fn conflict(&self, reason: impl Into<String>) -> FederationError {
        FederationError::PolicyConflict {
            entity_type: self.entity_type.to_owned(),
            parameter: self.parameter.to_owned(),
            reason: reason.into(),
        }
    }
}

impl Operators {
    fn parse(place: &Place<'_>, operators: &Value, crit: &[String]) -> Result<Operators, FederationError> {
        let Value::Object(operators) = operators else {
            return Err(place.conflict("the operators are not a JSON object"));
        };
        let array = |name: &str, value: &Value| match value {
            Value::Array(items) => Ok(items.clone()),
            _ => Err(place.conflict(format!("{name} is not an array"))),
        };
        let mut parsed = Operators::default();
        for (name, value) in operators {
            match name.as_str() {
                "value" => parsed.value = Some(value.clone()),
                // A single value is read as a one-element array, as peers write it.
                "add" => {
                    parsed.add = Some(match value {
                        Value::Array(items) => items.clone(),
                        Value::Null => return Err(place.conflict("add is null")),
                        other => vec![other.clone()],
                    });
                }
                "default" => {
                    if value.is_null() {
                        return Err(place.conflict("default is null"));
                    }
                    parsed.default = Some(value.clone());
                }
                "one_of" => {
                    let items = array("one_of", value)?;
                    if items.is_empty() {
                        return Err(place.conflict("one_of is empty"));
                    }
                    parsed.one_of = Some(items);
                }
                "subset_of" => parsed.subset_of = Some(array("subset_of", value)?),
                "superset_of" => parsed.superset_of = Some(array("superset_of", value)?),
                "essential" => {
                    parsed.essential = Some(
                        value
                            .as_bool()
                            .ok_or_else(|| place.conflict("essential is not a boolean"))?,
                    );
                }
                other if crit.iter().any(|critical| critical == other) => {
                    return Err(FederationError::UnsupportedCriticalOperator {
                        operator: other.chars().take(64).collect(),
                    });
                }
                _ => {}
            }
        }
        parsed.check(place)?;
        Ok(parsed)
    }

    /// Refuses combinations of operators OpenID Federation 1.0 forbids.
    fn check(&self, place: &Place<'_>) -> Result<(), FederationError> {
        if let Some(value) = &self.value {
            if value.is_null() {
                if self.add.is_some() {
                    return Err(place.conflict("value null with add"));
                }
                if self.default.is_some() {
                    return Err(place.conflict("value null with default"));
                }
                if self.essential == Some(true) {
                    return Err(place.conflict("value null with essential true"));
                }
            } else {
                if let Some(add) = &self.add
                    && !value.as_array().is_some_and(|items| is_subset(add, items))
                {
                    return Err(place.conflict("add is not within value"));
                }
                if let Some(one_of) = &self.one_of
                    && !one_of.contains(value)
                {
                    return Err(place.conflict("value is not one of one_of"));
                }
                if let Some(subset_of) = &self.subset_of
                    && !value.as_array().is_some_and(|items| is_subset(items, subset_of))
                {
                    return Err(place.conflict("value is not within subset_of"));
                }
                if let Some(superset_of) = &self.superset_of
                    && !value.as_array().is_some_and(|items| is_subset(superset_of, items))
                {
                    return Err(place.conflict("value does not include superset_of"));
                }
            }
        }
        if self.one_of.is_some() && (self.add.is_some() || self.subset_of.is_some() || self.superset_of.is_some()) {
            return Err(place.conflict("one_of with an array operator"));
        }
        if let (Some(add), Some(subset_of)) = (&self.add, &self.subset_of)
            && !is_subset(add, subset_of)
        {
            return Err(place.conflict("add is not within subset_of"));
        }
        if let (Some(superset_of), Some(subset_of)) = (&self.superset_of, &self.subset_of)
            && !is_subset(superset_of, subset_of)
        {
            return Err(place.conflict("superset_of is not within subset_of"));
        }
        Ok(())
    }

    /// The policy of a superior merged with its subordinate's.
    fn merge(self, lower: Operators, place: &Place<'_>) -> Result<Operators, FederationError> {
        let agree = |name: &str, upper: Option<Value>, lower: Option<Value>| match (upper, lower) {
            (Some(upper), Some(lower)) if !same_value(&upper, &lower) => {
                Err(place.conflict(format!("the superiors set different {name} values")))
            }
            (upper, lower) => Ok(upper.or(lower)),
        };
        let merged = Operators {
            value: agree("value", self.value, lower.value)?,
            default: agree("default", self.default, lower.default)?,
            add: union(self.add, lower.add),
            superset_of: union(self.superset_of, lower.superset_of),
            subset_of: intersection(self.subset_of, lower.subset_of),
            one_of: match intersection(self.one_of, lower.one_of) {
                Some(items) if items.is_empty() => return Err(place.conflict("the one_of sets have nothing in common")),
                other => other,
            },
            essential: match (self.essential, lower.essential) {
                (Some(true), Some(false)) => return Err(place.conflict("a subordinate turns essential off")),
                (upper, lower) => upper.into_iter().chain(lower).reduce(|a, b| a || b),
            },
        };
        merged.check(place)?;
        Ok(merged)
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(value) = value {
                map.insert(name.to_owned(), value);
            }
        };
        put("value", self.value.clone());
        put("add", self.add.clone().map(Value::Array));
        put("default", self.default.clone());
        put("one_of", self.one_of.clone().map(Value::Array));
        put("subset_of", self.subset_of.clone().map(Value::Array));
        put("superset_of", self.superset_of.clone().map(Value::Array));
        put("essential", self.essential.map(Value::Bool));
        Value::Object(map)
    }
}

/// Whether every item of `items` is in `set`.
fn is_subset(items: &[Value], set: &[Value]) -> bool {
    items.iter().all(|item| set.contains(item))
}

/// Equality where arrays compare as sets.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => is_subset(a, b) && is_subset(b, a),
        (a, b) => a == b,
    }
}

fn union(upper: Option<Vec<Value>>, lower: Option<Vec<Value>>) -> Option<Vec<Value>> {
    match (upper, lower) {
        (Some(mut upper), Some(lower)) => {
            for item in lower {
                if !upper.contains(&item) {
                    upper.push(item);
                }
            }
            Some(upper)
        }
        (upper, lower) => upper.or(lower),
    }
}

fn intersection(upper: Option<Vec<Value>>, lower: Option<Vec<Value>>) -> Option<Vec<Value>> {
    match (upper, lower) {
        (Some(upper), Some(lower)) => Some(upper.into_iter().filter(|item| lower.contains(item)).collect()),
        (upper, lower) => upper.or(lower),
    }
}

/// The policy for `entity_type` that results from the superiors' policies,
/// listed from the trust anchor's down to the leaf's immediate superior's
/// (each the `metadata_policy[entity_type]` of a subordinate statement, or
/// `None` where a statement has none). `crit` is the union of the chain's
/// `metadata_policy_crit`.
pub fn merge_policies(
    entity_type: &str,
    policies: &[Option<&Map<String, Value>>],
    crit: &[String],
) -> Result<Map<String, Value>, FederationError> {
    let mut merged: Vec<(String, Operators)> = Vec::new();
    for policy in policies.iter().flatten() {
        for (parameter, operators) in *policy {
            let place = Place { entity_type, parameter };
            let lower = Operators::parse(&place, operators, crit)?;
            match merged.iter_mut().find(|(name, _)| name == parameter) {
                Some((_, upper)) => *upper = std::mem::take(upper).merge(lower, &place)?,
                None => merged.push((parameter.clone(), lower)),
            }
        }
    }
    Ok(merged
        .into_iter()
        .map(|(parameter, operators)| (parameter, operators.to_value()))
        .collect())
}

/// `metadata` (of `entity_type`, published by `entity`) with the merged
/// `policy` applied.
pub fn apply_policy(
    entity: &str,
    entity_type: &str,
    policy: &Map<String, Value>,
    metadata: &Map<String, Value>,
) -> Result<Map<String, Value>, FederationError> {
    let mut result = metadata.clone();
    for (parameter, operators) in policy {
        let place = Place { entity_type, parameter };
        let operators = Operators::parse(&place, operators, &[])?;
        let violation = |operator| FederationError::PolicyViolation {
            entity: entity.to_owned(),
            entity_type: entity_type.to_owned(),
            parameter: parameter.clone(),
            operator,
        };

        if let Some(value) = &operators.value {
            if value.is_null() {
                result.remove(parameter);
            } else {
                result.insert(parameter.clone(), value.clone());
            }
        }
        if let Some(add) = &operators.add {
            match result.get_mut(parameter) {
                None => {
                    result.insert(parameter.clone(), Value::Array(add.clone()));
                }
                Some(Value::Array(items)) => {
                    for item in add {
                        if !items.contains(item) {
                            items.push(item.clone());
                        }
                    }
                }
                Some(_) => return Err(violation("add")),
            }
        }
        if let Some(default) = &operators.default
            && !result.contains_key(parameter)
        {
            result.insert(parameter.clone(), default.clone());
        }
        if let Some(one_of) = &operators.one_of
            && let Some(present) = result.get(parameter)
            && (present.is_array() || !one_of.contains(present))
        {
            return Err(violation("one_of"));
        }
        if let Some(subset_of) = &operators.subset_of
            && let Some(present) = result.get(parameter)
        {
            let Value::Array(items) = present else {
                return Err(violation("subset_of"));
            };
            let kept: Vec<Value> = items.iter().filter(|item| subset_of.contains(item)).cloned().collect();
            if kept.is_empty() {
                result.remove(parameter);
            } else {
                result.insert(parameter.clone(), Value::Array(kept));
            }
        }
        if let Some(superset_of) = &operators.superset_of
            && let Some(present) = result.get(parameter)
            && !present.as_array().is_some_and(|items| is_subset(superset_of, items))
        {
            return Err(violation("superset_of"));
        }
        if operators.essential == Some(true) && !result.contains_key(parameter) {
            return Err(violation("essential"));
        }
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => panic!("not an object"),
        }
    }

    fn apply(policy: Value, metadata: Value) -> Result<Map<String, Value>, FederationError> {
        let merged = merge_policies("openid_provider", &[Some(&map(policy))], &[])?;
        apply_policy("https://op.example", "openid_provider", &merged, &map(metadata))
    }

    fn merge(upper: Value, lower: Value) -> Result<Map<String, Value>, FederationError> {
        merge_policies("openid_provider", &[Some(&map(upper)), Some(&map(lower))], &[])
    }

    fn violation(result: Result<Map<String, Value>, FederationError>) -> &'static str {
        match result {
            Err(FederationError::PolicyViolation { operator, .. }) => operator,
            other => panic!("expected a policy violation, got {other:?}"),
        }
    }

    fn is_conflict(result: &Result<Map<String, Value>, FederationError>) -> bool {
        matches!(result, Err(FederationError::PolicyConflict { .. }))
    }

    #[test]
    fn value_sets_overrides_and_removes() {
        let out = apply(
            json!({"a": {"value": "x"}, "b": {"value": null}}),
            json!({"a": "y", "b": 1, "c": 2}),
        )
        .unwrap();
        assert_eq!(Value::Object(out), json!({"a": "x", "c": 2}));
        let out = apply(json!({"a": {"value": ["x"]}}), json!({})).unwrap();
        assert_eq!(out["a"], json!(["x"]));
    }

    #[test]
    fn add_appends_missing_items_or_creates_the_array() {
        let out = apply(
            json!({"contacts": {"add": ["ops@ta", "b"]}}),
            json!({"contacts": ["b", "a"]}),
        )
        .unwrap();
        assert_eq!(out["contacts"], json!(["b", "a", "ops@ta"]));
        let out = apply(json!({"contacts": {"add": "ops@ta"}}), json!({})).unwrap();
        assert_eq!(out["contacts"], json!(["ops@ta"]));
        assert_eq!(
            violation(apply(json!({"contacts": {"add": ["x"]}}), json!({"contacts": "a"}))),
            "add"
        );
    }

    #[test]
    fn default_fills_only_an_absent_parameter() {
        let out = apply(json!({"a": {"default": "d"}}), json!({})).unwrap();
        assert_eq!(out["a"], "d");
        let out = apply(json!({"a": {"default": "d"}}), json!({"a": "mine"})).unwrap();
        assert_eq!(out["a"], "mine");
    }

    #[test]
    fn one_of_checks_a_single_value() {
        let policy = json!({"alg": {"one_of": ["RS256", "RS512"]}});
        assert_eq!(apply(policy.clone(), json!({"alg": "RS512"})).unwrap()["alg"], "RS512");
        assert_eq!(violation(apply(policy.clone(), json!({"alg": "HS256"}))), "one_of");
        assert_eq!(violation(apply(policy.clone(), json!({"alg": ["RS256"]}))), "one_of");
        // Absent and not essential: nothing to check.
        assert!(!apply(policy, json!({})).unwrap().contains_key("alg"));
    }

    #[test]
    fn subset_of_intersects_in_the_metadata_order() {
        let policy = json!({"scopes": {"subset_of": ["openid", "profile", "email"]}});
        let out = apply(policy.clone(), json!({"scopes": ["email", "offline_access", "openid"]})).unwrap();
        assert_eq!(out["scopes"], json!(["email", "openid"]));
        // Nothing left: the parameter goes, and essential would then fail.
        let out = apply(policy.clone(), json!({"scopes": ["x"]})).unwrap();
        assert!(!out.contains_key("scopes"));
        let strict = json!({"scopes": {"subset_of": ["openid"], "essential": true}});
        assert_eq!(violation(apply(strict, json!({"scopes": ["x"]}))), "essential");
        // The reference implementation's quirk: a string is not a set of letters.
        assert_eq!(
            violation(apply(policy, json!({"scopes": "openid profile"}))),
            "subset_of"
        );
    }

    #[test]
    fn superset_of_requires_every_item() {
        let policy = json!({"acr": {"superset_of": ["L2", "L3"]}});
        assert!(apply(policy.clone(), json!({"acr": ["L1", "L2", "L3"]})).is_ok());
        assert_eq!(
            violation(apply(policy.clone(), json!({"acr": ["L1", "L2"]}))),
            "superset_of"
        );
        assert_eq!(violation(apply(policy, json!({"acr": "L2"}))), "superset_of");
    }

    #[test]
    fn essential_requires_presence_after_the_modifiers() {
        assert_eq!(
            violation(apply(json!({"jwks": {"essential": true}}), json!({}))),
            "essential"
        );
        assert!(apply(json!({"jwks": {"essential": true}}), json!({"jwks": {}})).is_ok());
        assert!(apply(json!({"jwks": {"essential": false}}), json!({})).is_ok());
        // A default satisfies it.
        assert!(apply(json!({"a": {"essential": true, "default": 1}}), json!({})).is_ok());
    }

    #[test]
    fn merging_keeps_the_strictest_policy() {
        let merged = merge(
            json!({"s": {"subset_of": ["a", "b", "c"], "add": ["a"], "essential": false},
                   "o": {"one_of": ["x", "y", "z"]}, "p": {"superset_of": ["1"]}}),
            json!({"s": {"subset_of": ["b", "a", "d"], "add": ["b"], "essential": true},
                   "o": {"one_of": ["z", "y"]}, "p": {"superset_of": ["2"]}, "q": {"default": 5}}),
        )
        .unwrap();
        assert_eq!(
            merged["s"],
            json!({"add": ["a", "b"], "subset_of": ["a", "b"], "essential": true})
        );
        assert_eq!(merged["o"], json!({"one_of": ["y", "z"]}));
        assert_eq!(merged["p"], json!({"superset_of": ["1", "2"]}));
        assert_eq!(merged["q"], json!({"default": 5}));
        // Array values equal as sets merge.
        assert!(merge(json!({"v": {"value": ["a", "b"]}}), json!({"v": {"value": ["b", "a"]}})).is_ok());
    }

    #[test]
    fn merge_conflicts_are_refused() {
        for (upper, lower) in [
            (json!({"v": {"value": "a"}}), json!({"v": {"value": "b"}})),
            (json!({"v": {"default": "a"}}), json!({"v": {"default": "b"}})),
            (json!({"v": {"one_of": ["a"]}}), json!({"v": {"one_of": ["b"]}})),
            (json!({"v": {"essential": true}}), json!({"v": {"essential": false}})),
            // The merge leaves add outside subset_of.
            (json!({"v": {"subset_of": ["a"]}}), json!({"v": {"add": ["b"]}})),
            // The merge leaves value outside one_of.
            (json!({"v": {"one_of": ["a", "b"]}}), json!({"v": {"value": "c"}})),
        ] {
            let result = merge(upper.clone(), lower.clone());
            assert!(is_conflict(&result), "{upper} + {lower}: {result:?}");
        }
    }

    #[test]
    fn forbidden_combinations_in_one_policy_are_refused() {
        for policy in [
            json!({"v": {"value": null, "essential": true}}),
            json!({"v": {"value": null, "default": 1}}),
            json!({"v": {"value": ["a"], "add": ["b"]}}),
            json!({"v": {"value": ["a", "z"], "subset_of": ["a"]}}),
            json!({"v": {"value": ["a"], "superset_of": ["a", "b"]}}),
            json!({"v": {"one_of": ["a"], "subset_of": ["a"]}}),
            json!({"v": {"subset_of": ["a"], "superset_of": ["b"]}}),
            json!({"v": {"one_of": []}}),
            json!({"v": {"essential": "yes"}}),
            json!({"v": {"subset_of": "a"}}),
            json!({"v": "not operators"}),
        ] {
            let result = apply(policy.clone(), json!({}));
            assert!(is_conflict(&result), "{policy}: {result:?}");
        }
    }

    #[test]
    fn unknown_operators_are_ignored_unless_critical() {
        let policy = map(json!({"v": {"regexp": "^a", "default": "b"}}));
        let merged = merge_policies("t", &[Some(&policy)], &[]).unwrap();
        assert_eq!(merged["v"], json!({"default": "b"}));
        assert!(matches!(
            merge_policies("t", &[Some(&policy)], &["regexp".to_owned()]),
            Err(FederationError::UnsupportedCriticalOperator { operator }) if operator == "regexp"
        ));
    }
}
