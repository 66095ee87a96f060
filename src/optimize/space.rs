//! The search space: which settings vary, between what bounds, in what steps, and the seeded
//! draw of candidate `i` (a pure function of the seed and `i`, so a shard draws exactly the
//! candidates a single run would).

use serde::{Deserialize, Serialize};

use crate::model::decimal::Decimal;
use crate::simulate::synthetic::{SplitMix64, derive_seed};

/// A setting the optimizer may vary, and its grain: whole numbers, or decimals to `places`.
struct Variable {
    field: &'static str,
    /// Decimal places of a drawn value (0: a whole number).
    places: u32,
    /// The lowest value 3Commas takes (a bound below it is refused).
    floor: &'static str,
}

/// Every setting `--vary` takes: the ladder, the take profit and the stop loss. Volumes are
/// left out on purpose: a bigger order scales profit and capital alike, so the search would
/// only learn to spend more (vary them with a capital constraint in mind, by hand).
const VARIABLES: &[Variable] = &[
    Variable {
        field: "safety_order_step_percentage",
        places: 2,
        floor: "0.1",
    },
    Variable {
        field: "martingale_volume_coefficient",
        places: 2,
        floor: "0.1",
    },
    Variable {
        field: "martingale_step_coefficient",
        places: 2,
        floor: "0.1",
    },
    Variable {
        field: "max_safety_orders",
        places: 0,
        floor: "0",
    },
    Variable {
        field: "active_safety_orders_count",
        places: 0,
        floor: "1",
    },
    Variable {
        field: "take_profit",
        places: 2,
        floor: "0.1",
    },
    Variable {
        field: "stop_loss_percentage",
        places: 2,
        floor: "0",
    },
    Variable {
        field: "trailing_deviation",
        places: 2,
        floor: "0.1",
    },
    Variable {
        field: "max_active_deals",
        places: 0,
        floor: "1",
    },
    Variable {
        field: "cooldown",
        places: 0,
        floor: "0",
    },
    Variable {
        field: "base_order_volume",
        places: 2,
        floor: "0",
    },
    Variable {
        field: "safety_order_volume",
        places: 2,
        floor: "0",
    },
];

/// The usual DCA ladder, searched when no `--vary` is given.
pub const DEFAULT_SPACE: &[&str] = &[
    "safety_order_step_percentage=0.5..3",
    "martingale_volume_coefficient=1..2",
    "martingale_step_coefficient=1..1.5",
    "max_safety_orders=2..10",
    "take_profit=0.5..3",
];

/// One varied setting: `field` drawn uniformly on `low..=high`, rounded to `places`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    pub field: String,
    pub low: Decimal,
    pub high: Decimal,
    pub places: u32,
}

/// The varied settings, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space(pub Vec<Dimension>);

/// The fields `--vary` takes, for messages.
pub fn variable_fields() -> Vec<&'static str> {
    VARIABLES.iter().map(|v| v.field).collect()
}

/// Parse one `field=low..high`.
pub fn parse_dimension(text: &str) -> Result<Dimension, String> {
    let shown = crate::diagnostic::quote_input(text);
    let (field, range) = text.split_once('=').ok_or_else(|| {
        format!("--vary `{shown}`: write field=low..high (safety_order_step_percentage=0.8..3)")
    })?;
    let field = field.trim();
    let Some(variable) = VARIABLES.iter().find(|v| v.field == field) else {
        let hint = crate::diagnostic::did_you_mean(field, variable_fields())
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        return Err(format!(
            "--vary `{shown}`: `{}` is not a setting the optimizer varies{hint}; it varies {}",
            crate::diagnostic::quote_input(field),
            variable_fields().join(", ")
        ));
    };
    let (low, high) = range
        .split_once("..")
        .ok_or_else(|| format!("--vary `{shown}`: write the range as low..high (0.8..3)"))?;
    let number = |t: &str| -> Result<Decimal, String> {
        t.trim()
            .parse::<Decimal>()
            .map_err(|_| format!("--vary `{shown}`: `{}` is not a number", t.trim()))
    };
    let (low, high) = (number(low)?, number(high)?);
    if low > high {
        return Err(format!(
            "--vary `{shown}`: the low bound is above the high one"
        ));
    }
    let floor: Decimal = variable.floor.parse().unwrap_or_default();
    if low < floor {
        return Err(format!(
            "--vary `{shown}`: {field} cannot be below {floor} on 3Commas"
        ));
    }
    if variable.places == 0
        && (low.0.fract() != rust_decimal::Decimal::ZERO
            || high.0.fract() != rust_decimal::Decimal::ZERO)
    {
        return Err(format!(
            "--vary `{shown}`: {field} is a whole number: give whole bounds"
        ));
    }
    Ok(Dimension {
        field: field.to_string(),
        low,
        high,
        places: variable.places,
    })
}

impl Space {
    /// The space `--vary` gives (the default ladder when none is given); a field given twice
    /// is refused.
    pub fn parse(varies: &[String]) -> Result<Space, String> {
        let texts: Vec<String> = if varies.is_empty() {
            DEFAULT_SPACE.iter().map(|s| s.to_string()).collect()
        } else {
            varies.to_vec()
        };
        let mut dimensions: Vec<Dimension> = Vec::new();
        for text in &texts {
            let d = parse_dimension(text)?;
            if dimensions.iter().any(|e| e.field == d.field) {
                return Err(format!("--vary names {} twice", d.field));
            }
            dimensions.push(d);
        }
        Ok(Space(dimensions))
    }

    /// Candidate `index` of `seed`: each value uniform on its range, rounded to its grain.
    pub fn draw(&self, seed: u64, index: u64) -> Vec<Decimal> {
        let mut rng = SplitMix64(derive_seed(seed, index));
        self.0
            .iter()
            .map(|d| {
                let u = rng.uniform();
                let (low, high) = (d.low.0, d.high.0);
                if d.places == 0 {
                    // Whole numbers: each of low..=high equally likely.
                    let span = (high - low).trunc();
                    let n = span + rust_decimal::Decimal::ONE;
                    let k = (rust_decimal::Decimal::from_f64_retain(u).unwrap_or_default() * n)
                        .trunc()
                        .min(span);
                    return Decimal::from(low + k);
                }
                let x = low
                    + (high - low) * rust_decimal::Decimal::from_f64_retain(u).unwrap_or_default();
                Decimal::from(x.round_dp(d.places).clamp(low, high))
            })
            .collect()
    }

    /// The settings of a drawn candidate, as `set_fields` takes them.
    pub fn fields(&self, values: &[Decimal]) -> serde_json::Map<String, serde_json::Value> {
        self.0
            .iter()
            .zip(values)
            .map(|(d, v)| (d.field.clone(), number(*v)))
            .collect()
    }
}

/// A decimal as a JSON number when it is a whole number, else as its exact text.
pub fn number(value: Decimal) -> serde_json::Value {
    let normal = value.0.normalize();
    if normal.fract().is_zero()
        && let Ok(n) = i64::try_from(normal.mantissa())
    {
        return serde_json::Value::from(n);
    }
    serde_json::Value::String(normal.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draw_is_a_function_of_the_seed_and_the_index_and_stays_in_range() {
        let space = Space::parse(&[]).unwrap();
        assert_eq!(space.draw(7, 12), space.draw(7, 12));
        assert_ne!(space.draw(7, 12), space.draw(8, 12));
        for i in 0..500 {
            for (d, v) in space.0.iter().zip(space.draw(3, i)) {
                assert!(v >= d.low && v <= d.high, "{} = {v}", d.field);
                assert!(v.0.scale() <= d.places, "{} = {v}", d.field);
            }
        }
        // Whole numbers reach both ends.
        let seen: std::collections::BTreeSet<String> =
            (0..500).map(|i| space.draw(3, i)[3].to_string()).collect();
        assert!(seen.contains("2") && seen.contains("10"), "{seen:?}");
    }

    #[test]
    fn a_bad_range_is_refused_with_what_to_write() {
        let e = parse_dimension("take_proft=1..2").unwrap_err();
        assert!(e.contains("did you mean `take_profit`"), "{e}");
        let e = parse_dimension("take_profit=3..1").unwrap_err();
        assert!(e.contains("low bound is above"), "{e}");
        let e = parse_dimension("max_safety_orders=2.5..4").unwrap_err();
        assert!(e.contains("whole number"), "{e}");
        let e = parse_dimension("take_profit=0..1").unwrap_err();
        assert!(e.contains("cannot be below 0.1"), "{e}");
        let e = Space::parse(&["take_profit=1..2".into(), "take_profit=1..3".into()]).unwrap_err();
        assert!(e.contains("twice"), "{e}");
    }

    #[test]
    fn fields_are_numbers_as_set_fields_takes_them() {
        let space =
            Space::parse(&["max_safety_orders=2..4".into(), "take_profit=1..2".into()]).unwrap();
        let fields = space.fields(&["3".parse().unwrap(), "1.50".parse().unwrap()]);
        assert_eq!(
            serde_json::Value::Object(fields),
            serde_json::json!({"max_safety_orders": 3, "take_profit": "1.5"})
        );
    }
}
