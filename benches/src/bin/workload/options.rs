//! The harness's command line.

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Events seeded on each pair's Outlook calendar.
    pub(crate) events: usize,
    /// Share of events edited on each side before the last phase, in percent.
    pub(crate) edit_pct: f64,
    /// Share of Outlook events deleted before the last phase, in percent.
    pub(crate) delete_pct: f64,
    /// SQLite state on a temporary file (else the in-memory store).
    pub(crate) sqlite: bool,
    /// Independent calendar pairs synced concurrently.
    pub(crate) pairs: usize,
    /// Through the Graph and Salesforce emulators over HTTP (else in-memory providers).
    pub(crate) emulators: bool,
    /// With `emulators`: how many pairs share one Graph and one Salesforce emulator (one
    /// tenant and one org serving that many users).
    pub(crate) users_per_emulator: usize,
    /// Print JSON instead of a table.
    pub(crate) json: bool,
}

pub(crate) const USAGE: &str = "usage: workload [--events N] [--edit-pct X] [--delete-pct Y] \
[--store sqlite|memory] [--pairs P] [--emulators [--users-per-emulator K]] [--json]";

fn number<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    value
        .ok_or_else(|| format!("{name} needs a value"))?
        .parse()
        .map_err(|e| format!("{name}: {e}"))
}

/// Parses the process arguments.
pub(crate) fn parse_args() -> Result<Options, String> {
    parse(std::env::args().skip(1))
}

fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options {
        events: 10_000,
        edit_pct: 1.0,
        delete_pct: 0.5,
        sqlite: true,
        pairs: 1,
        emulators: false,
        users_per_emulator: 10,
        json: false,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--events" => o.events = number("--events", args.next())?,
            "--edit-pct" => o.edit_pct = number("--edit-pct", args.next())?,
            "--delete-pct" => o.delete_pct = number("--delete-pct", args.next())?,
            "--pairs" => o.pairs = number("--pairs", args.next())?,
            "--users-per-emulator" => {
                o.users_per_emulator = number("--users-per-emulator", args.next())?
            }
            "--store" => {
                o.sqlite = match args.next().as_deref() {
                    Some("sqlite") => true,
                    Some("memory") => false,
                    other => {
                        return Err(format!(
                            "--store: unknown store {other:?} (sqlite or memory)"
                        ));
                    }
                }
            }
            "--emulators" => o.emulators = true,
            "--json" => o.json = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if o.pairs == 0 || o.users_per_emulator == 0 {
        return Err("--pairs and --users-per-emulator must be at least 1".into());
    }
    if !(0.0..=100.0).contains(&o.edit_pct) || !(0.0..=100.0).contains(&o.delete_pct) {
        return Err("--edit-pct and --delete-pct are percentages (0 to 100)".into());
    }
    Ok(o)
}

/// One item in `every(pct)` is touched: `pct` percent of them.
pub(crate) fn every(pct: f64) -> usize {
    if pct <= 0.0 {
        usize::MAX
    } else {
        ((100.0 / pct).round() as usize).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options_parse() {
        let o = parse(args(&[
            "--events",
            "200",
            "--pairs",
            "1000",
            "--emulators",
            "--store",
            "memory",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (o.events, o.pairs, o.emulators, o.sqlite),
            (200, 1000, true, false)
        );
        assert!(parse(args(&["--pairs", "0"])).is_err());
        assert!(parse(args(&["--store", "postgres"])).is_err());
        assert_eq!(every(1.0), 100);
        assert_eq!(every(0.0), usize::MAX);
    }
}
