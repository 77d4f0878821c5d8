//! Quantities with units (`128MiB`, `20s`, `0.5`) to exact integers in base units. Decimal
//! digits are scaled exactly (no floating point), so `1.5KiB` is 1536 and `0.1s` is 100 ms.

use crate::ast::Quantity;

/// What a quantity measures, and so which units it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Measure {
    /// Bytes: `B KB MB GB KiB MiB GiB`.
    Size,
    /// Milliseconds: `ms s m h`.
    Duration,
    /// A plain whole number.
    Count,
    /// A plain number with up to three decimals, in thousandths (`0.5` → 500).
    Thousandths,
}

impl Measure {
    fn units(self) -> &'static [(&'static str, u128)] {
        match self {
            Measure::Size => &[
                ("B", 1),
                ("KB", 1_000),
                ("MB", 1_000_000),
                ("GB", 1_000_000_000),
                ("KiB", 1 << 10),
                ("MiB", 1 << 20),
                ("GiB", 1 << 30),
            ],
            Measure::Duration => &[("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)],
            Measure::Count => &[("", 1)],
            Measure::Thousandths => &[("", 1_000)],
        }
    }

    pub fn unit_names(self) -> &'static str {
        match self {
            Measure::Size => "B, KB, MB, GB, KiB, MiB or GiB",
            Measure::Duration => "ms, s, m or h",
            Measure::Count | Measure::Thousandths => "no unit",
        }
    }

    fn base_unit(self) -> &'static str {
        match self {
            Measure::Size => "byte",
            Measure::Duration => "millisecond",
            Measure::Count => "unit",
            Measure::Thousandths => "thousandth",
        }
    }
}

/// The quantity in base units, or why it has none.
pub(super) fn to_base(quantity: &Quantity, measure: Measure) -> Result<u64, String> {
    let Some((_, multiplier)) = measure
        .units()
        .iter()
        .find(|(unit, _)| *unit == quantity.unit)
    else {
        return Err(if quantity.unit.is_empty() {
            format!("needs a unit: {}", measure.unit_names())
        } else {
            format!(
                "`{}` is not a unit here (use {})",
                quantity.unit,
                measure.unit_names()
            )
        });
    };
    let (whole, fraction) = quantity
        .number
        .split_once('.')
        .unwrap_or((&quantity.number, ""));
    let digits_only = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) || fraction.len() > 18 {
        return Err(format!(
            "`{}` is not a non-negative decimal number",
            quantity.number
        ));
    }
    let too_large = || "the value is too large".to_owned();
    let scale = 10u128.pow(u32::try_from(fraction.len()).map_err(|_| too_large())?);
    let whole: u128 = whole.parse().map_err(|_| too_large())?;
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| too_large())?
    };
    let scaled = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction))
        .and_then(|n| n.checked_mul(*multiplier))
        .ok_or_else(too_large)?;
    if scaled % scale != 0 {
        return Err(format!("not a whole number of {}s", measure.base_unit()));
    }
    u64::try_from(scaled / scale).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(number: &str, unit: &str) -> Quantity {
        Quantity {
            number: number.to_owned(),
            unit: unit.to_owned(),
        }
    }

    #[test]
    fn exact_scaling() {
        assert_eq!(to_base(&q("128", "MiB"), Measure::Size), Ok(128 << 20));
        assert_eq!(to_base(&q("1.5", "KiB"), Measure::Size), Ok(1536));
        assert_eq!(to_base(&q("0.1", "s"), Measure::Duration), Ok(100));
        assert_eq!(to_base(&q("0.5", ""), Measure::Thousandths), Ok(500));
        assert_eq!(to_base(&q("32", ""), Measure::Count), Ok(32));
    }

    #[test]
    fn rejects_bad_units_and_fractions() {
        assert!(to_base(&q("128", ""), Measure::Size).is_err());
        assert!(to_base(&q("128", "MiB"), Measure::Duration).is_err());
        assert!(to_base(&q("0.5", "B"), Measure::Size).is_err());
        assert!(to_base(&q("0.0005", ""), Measure::Thousandths).is_err());
        assert!(to_base(&q("1.5", ""), Measure::Count).is_err());
        assert!(to_base(&q("99999999999999999999", "GiB"), Measure::Size).is_err());
    }
}
