//! Backup schedules' cron strings (croner): five fields (minute hour day-of-month month day-of-week), as the
//! operators take them (PXC and PSMDB run Go cron parsers, PG writes CronJobs), and their next runs in UTC.
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use k8s_openapi::jiff::{tz::TimeZone, Timestamp};

/// The parsed schedule, or why it is not one (the message says what is wrong, not where: the caller names
/// the field).
pub fn parse(cron: &str) -> Result<Cron, String> {
    let fields = cron.split_whitespace().count();
    if fields != 5 && !cron.trim_start().starts_with('@') {
        return Err(format!("{cron:?} is not a cron schedule: it needs 5 fields (minute hour day-of-month month day-of-week), it has {fields}"));
    }
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(cron)
        .map_err(|e| format!("{cron:?} is not a cron schedule: {e}"))
}

/// The first run of `cron` strictly after `t` (UTC).
pub fn next_after(cron: &Cron, t: Timestamp) -> Option<Timestamp> {
    let z = t.to_zoned(TimeZone::UTC);
    cron.find_next_occurrence(&z, false).ok().map(|n| n.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_field_schedules_only() {
        for ok in ["0 1 * * *", "*/15 * * * *", "0 4 * * 1-5", "30 2 1 * *", "@daily", "0 0 * * SUN"] {
            assert!(parse(ok).is_ok(), "{ok}: {:?}", parse(ok).err());
        }
        for bad in ["", "daily", "0 1 * *", "0 0 1 * * *", "61 * * * *", "0 25 * * *", "* * 32 * *", "0 1 * * * 2026", "a b c d e"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("is not a cron schedule"), "{bad}: {e}");
        }
    }

    #[test]
    fn next_runs_in_utc() {
        let c = parse("30 2 * * *").unwrap();
        let t: Timestamp = "2026-01-02T03:00:00Z".parse().unwrap();
        assert_eq!(next_after(&c, t).unwrap().to_string(), "2026-01-03T02:30:00Z");
        let c = parse("*/1 * * * *").unwrap();
        assert_eq!(next_after(&c, "2026-01-02T03:00:00Z".parse().unwrap()).unwrap().to_string(), "2026-01-02T03:01:00Z", "strictly after");
    }
}
