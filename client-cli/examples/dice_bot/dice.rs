//! Dice notation and rolling for the dice bot: pure functions, unit-tested (the tests run from
//! `tests/example_bots.rs`, which includes this file).

/// A parsed roll: `count`d`sides`+`modifier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roll {
    /// How many dice.
    pub count: u32,
    /// Sides of each die.
    pub sides: u32,
    /// Added to the sum.
    pub modifier: i64,
}

/// Parses `NdM`, `dM`, `NdM+K` or `NdM-K` (spaces allowed around the sign).
pub fn parse_roll(spec: &str) -> Result<Roll, String> {
    let spec: String = spec
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let usage = || format!("cannot roll {spec:?}: try 2d6, d20 or 3d8+2");
    let (dice, modifier) = match spec.find(['+', '-']) {
        Some(i) => {
            let m: i64 = spec[i + 1..].parse().map_err(|_| usage())?;
            (&spec[..i], if &spec[i..=i] == "-" { -m } else { m })
        }
        None => (spec.as_str(), 0),
    };
    let (count, sides) = dice.split_once('d').ok_or_else(usage)?;
    let count: u32 = if count.is_empty() {
        1
    } else {
        count.parse().map_err(|_| usage())?
    };
    let sides: u32 = sides.parse().map_err(|_| usage())?;
    if !(1..=20).contains(&count)
        || !(2..=1000).contains(&sides)
        || !(-1000..=1000).contains(&modifier)
    {
        return Err(format!(
            "{spec}: 1-20 dice of 2-1000 sides, modifier within ±1000"
        ));
    }
    Ok(Roll {
        count,
        sides,
        modifier,
    })
}

/// Rolls with `rng` and describes the result: `3 + 5 + 1 = 9`.
pub fn roll(r: Roll, mut rng: impl FnMut(u32) -> u32) -> String {
    let faces: Vec<i64> = (0..r.count).map(|_| i64::from(rng(r.sides))).collect();
    let total: i64 = faces.iter().sum::<i64>() + r.modifier;
    let mut parts: Vec<String> = faces.iter().map(i64::to_string).collect();
    match r.modifier {
        0 => {}
        m if m > 0 => parts.push(m.to_string()),
        m => parts.push(format!("({m})")),
    }
    if parts.len() == 1 {
        format!("{total}")
    } else {
        format!("{} = {total}", parts.join(" + "))
    }
}

/// The dice spec in a request: `!roll 2d6` anywhere, or `roll 2d6` when addressed.
pub fn request<'a>(body: &'a str, addressed: Option<&'a str>) -> Option<&'a str> {
    let strip = |s: &'a str, prefix: &str| {
        s.trim_start()
            .strip_prefix(prefix)
            .filter(|rest| rest.is_empty() || rest.starts_with(' '))
            .map(str::trim)
    };
    strip(body, "!roll").or_else(|| addressed.and_then(|a| strip(a, "roll")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rolls() {
        assert_eq!(
            parse_roll("2d6"),
            Ok(Roll {
                count: 2,
                sides: 6,
                modifier: 0
            })
        );
        assert_eq!(
            parse_roll("d20"),
            Ok(Roll {
                count: 1,
                sides: 20,
                modifier: 0
            })
        );
        assert_eq!(
            parse_roll("3D8 + 2"),
            Ok(Roll {
                count: 3,
                sides: 8,
                modifier: 2
            })
        );
        assert_eq!(
            parse_roll("1d4-1"),
            Ok(Roll {
                count: 1,
                sides: 4,
                modifier: -1
            })
        );
        for bad in [
            "", "2x6", "0d6", "21d6", "2d1", "2d6+", "2d6+x", "d", "-1d6",
        ] {
            assert!(parse_roll(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn describes_rolls() {
        let mut faces = [3, 5].into_iter();
        let r = Roll {
            count: 2,
            sides: 6,
            modifier: 1,
        };
        assert_eq!(roll(r, |_| faces.next().unwrap_or(1)), "3 + 5 + 1 = 9");
        assert_eq!(
            roll(
                Roll {
                    count: 1,
                    sides: 20,
                    modifier: 0
                },
                |_| 17
            ),
            "17"
        );
        assert_eq!(
            roll(
                Roll {
                    count: 1,
                    sides: 6,
                    modifier: -2
                },
                |_| 1
            ),
            "1 + (-2) = -1"
        );
    }

    #[test]
    fn finds_requests() {
        assert_eq!(request("!roll 2d6", None), Some("2d6"));
        assert_eq!(request("!roll", None), Some(""));
        assert_eq!(request("!rolling", None), None);
        assert_eq!(request("dicebot: roll d20", Some("roll d20")), Some("d20"));
        assert_eq!(request("hello", Some("hello")), None);
    }
}
