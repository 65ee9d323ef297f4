//! Backups, schedules, PITR and restores as the UI sees them (shared by the server and the browser), and
//! the schedule frequency picker: the few shapes of cron string it writes, read back, put in words, and
//! their next runs (UTC, as the operators run them).
use serde::{Deserialize, Serialize};

/// Everything a database's Backups and Restores tabs show, carried in [`super::DbDetail`] so it arrives
/// (and stays current) over the database page's event stream.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BackupsView {
    pub backups: Vec<BackupRow>,
    pub restores: Vec<RestoreRow>,
    pub schedules: Vec<ScheduleView>,
    pub pitr_enabled: bool,
    pub pitr_storage: String,
    /// The restorable window of point-in-time recovery, when there is one.
    pub pitr_window: Option<PitrWindow>,
    /// The backup storages of the namespace the caller may read (names).
    pub storages: Vec<String>,
    /// The caller may back up this database and change its schedules (`database-cluster-backups` create).
    pub can_backup: bool,
    /// The caller may restore this database (`database-cluster-restores` create).
    pub can_restore: bool,
    /// The caller may change the database (schedules and PITR live in its spec).
    pub can_update: bool,
    /// Why a restore may not start now (the database's state), if it may not.
    pub restore_blocked: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct BackupRow {
    pub name: String,
    /// The contract's state (`""`, Starting, Running, Failed, Succeeded, Deleting).
    pub state: String,
    /// Unix seconds; 0 when not yet known.
    pub started: i64,
    pub finished: i64,
    pub storage: String,
    pub size: String,
    pub message: String,
    pub in_use: bool,
    /// Where its data is (`s3://bucket/path`, the upstream status' destination): what a restore from a
    /// storage path names. Empty until the operator reports it.
    #[serde(default)]
    pub location: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RestoreRow {
    pub name: String,
    pub state: String,
    /// The backup restored (its name, or `<storage>:<path>`).
    pub source: String,
    /// `""` (the backup as it is), `latest`, or the point in time (RFC 3339).
    pub point_in_time: String,
    pub created: i64,
    pub completed: i64,
    pub message: String,
    pub can_delete: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ScheduleView {
    pub name: String,
    pub enabled: bool,
    pub schedule: String,
    pub retention_copies: i32,
    pub storage: String,
}

/// `GET …/pitr` in the UI's units (Unix seconds).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PitrWindow {
    pub earliest: i64,
    pub latest: i64,
    pub latest_backup_name: String,
    pub gaps: bool,
}

/// Settings → Storage locations: the storages the caller may read in every managed namespace, and where
/// it may add one.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StoragePage {
    pub rows: Vec<StorageRow>,
    pub create_namespaces: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StorageRow {
    pub storage: super::BackupStorageDto,
    pub can_update: bool,
    pub can_delete: bool,
}

/// A backup state in words (the contract's `""` is "Waiting").
pub fn backup_state_label(s: &str) -> &str {
    match s {
        "" => "Waiting",
        other => other,
    }
}

/// Badge colours of a backup or restore state.
pub fn state_badge_class(s: &str) -> &'static str {
    match s {
        "Succeeded" => "rounded bg-green-100 px-2 py-0.5 text-xs font-medium text-green-800",
        "Failed" => "rounded bg-red-100 px-2 py-0.5 text-xs font-medium text-red-800",
        "Running" | "Restoring" | "Starting" => "rounded bg-blue-100 px-2 py-0.5 text-xs font-medium text-blue-800",
        _ => "rounded bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-700",
    }
}

/// What the frequency picker offers. Each writes one cron string (minute hour day-of-month month
/// day-of-week, UTC) and is read back from exactly that shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Hourly { minute: u32 },
    Daily { hour: u32, minute: u32 },
    /// `weekday` 0 = Sunday … 6 = Saturday (cron's numbering).
    Weekly { weekday: u32, hour: u32, minute: u32 },
    /// `day` 1–28 (a day every month has).
    Monthly { day: u32, hour: u32, minute: u32 },
}

pub const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

impl Frequency {
    /// From the picker's fields (`kind` hourly|daily|weekly|monthly; the time as `HH:MM`). Out-of-range
    /// values are refused in words naming the field.
    pub fn from_fields(kind: &str, time: &str, weekday: &str, day: &str) -> Result<Frequency, String> {
        let (hour, minute) = parse_hhmm(time).ok_or_else(|| format!("Time: {time:?} is not a time like 02:30"))?;
        Ok(match kind {
            "hourly" => Frequency::Hourly { minute },
            "daily" => Frequency::Daily { hour, minute },
            "weekly" => {
                let weekday = weekday.parse::<u32>().ok().filter(|d| *d < 7).ok_or("Day of the week: pick a day")?;
                Frequency::Weekly { weekday, hour, minute }
            }
            "monthly" => {
                let day = day.parse::<u32>().ok().filter(|d| (1..=28).contains(d)).ok_or("Day of the month: a number from 1 to 28")?;
                Frequency::Monthly { day, hour, minute }
            }
            other => return Err(format!("Frequency: {other:?} is not hourly, daily, weekly or monthly")),
        })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Frequency::Hourly { .. } => "hourly",
            Frequency::Daily { .. } => "daily",
            Frequency::Weekly { .. } => "weekly",
            Frequency::Monthly { .. } => "monthly",
        }
    }

    /// `(hour, minute)`; an hourly schedule's hour is 0.
    pub fn time(&self) -> (u32, u32) {
        match *self {
            Frequency::Hourly { minute } => (0, minute),
            Frequency::Daily { hour, minute } | Frequency::Weekly { hour, minute, .. } | Frequency::Monthly { hour, minute, .. } => (hour, minute),
        }
    }

    pub fn to_cron(&self) -> String {
        match *self {
            Frequency::Hourly { minute } => format!("{minute} * * * *"),
            Frequency::Daily { hour, minute } => format!("{minute} {hour} * * *"),
            Frequency::Weekly { weekday, hour, minute } => format!("{minute} {hour} * * {weekday}"),
            Frequency::Monthly { day, hour, minute } => format!("{minute} {hour} {day} * *"),
        }
    }

    /// The picker's shape of a cron string, if it is one (anything else is shown as the cron string).
    pub fn parse(cron: &str) -> Option<Frequency> {
        let f: Vec<&str> = cron.split_whitespace().collect();
        let [m, h, dom, mon, dow] = f.as_slice() else { return None };
        let num = |s: &str, max: u32| s.parse::<u32>().ok().filter(|v| *v <= max);
        let minute = num(m, 59)?;
        if *mon != "*" {
            return None;
        }
        match (*h, *dom, *dow) {
            ("*", "*", "*") => Some(Frequency::Hourly { minute }),
            (h, "*", "*") => Some(Frequency::Daily { hour: num(h, 23)?, minute }),
            (h, "*", d) => Some(Frequency::Weekly { weekday: num(d, 7)? % 7, hour: num(h, 23)?, minute }),
            (h, d, "*") => Some(Frequency::Monthly { day: num(d, 28).filter(|d| *d >= 1)?, hour: num(h, 23)?, minute }),
            _ => None,
        }
    }

    /// In words: "Every day at 02:30 UTC".
    pub fn describe(&self) -> String {
        match *self {
            Frequency::Hourly { minute } => format!("Every hour at minute {minute:02}"),
            Frequency::Daily { hour, minute } => format!("Every day at {hour:02}:{minute:02} UTC"),
            Frequency::Weekly { weekday, hour, minute } => format!("Every {} at {hour:02}:{minute:02} UTC", WEEKDAYS[weekday as usize % 7]),
            Frequency::Monthly { day, hour, minute } => format!("On day {day} of every month at {hour:02}:{minute:02} UTC"),
        }
    }

    /// The next `n` runs strictly after `now` (Unix seconds, UTC).
    pub fn next_runs(&self, now: i64, n: usize) -> Vec<i64> {
        let mut out = Vec::with_capacity(n);
        let (hour, minute) = self.time();
        let today = now.div_euclid(86_400);
        // At most ~13 months ahead covers every shape.
        for day in today..today + 400 {
            let (_, _, dom) = civil_from_days(day);
            let weekday = (day + 4).rem_euclid(7) as u32; // 1970-01-01 was a Thursday.
            let hours: Vec<u32> = match *self {
                Frequency::Hourly { .. } => (0..24).collect(),
                Frequency::Daily { .. } => vec![hour],
                Frequency::Weekly { weekday: w, .. } => if w == weekday { vec![hour] } else { vec![] },
                Frequency::Monthly { day: d, .. } => if d == dom { vec![hour] } else { vec![] },
            };
            for h in hours {
                let t = day * 86_400 + h as i64 * 3600 + minute as i64 * 60;
                if t > now {
                    out.push(t);
                    if out.len() == n {
                        return out;
                    }
                }
            }
        }
        out
    }
}

/// A cron string in words: the picker's shapes as sentences, anything else as itself.
pub fn describe_cron(cron: &str) -> String {
    Frequency::parse(cron).map(|f| f.describe()).unwrap_or_else(|| format!("Cron “{cron}” (UTC)"))
}

fn parse_hhmm(s: &str) -> Option<(u32, u32)> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.get(..2).unwrap_or(m).parse::<u32>().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

/// `(year, month 1–12, day 1–31)` of a day number since 1970-01-01 (Howard Hinnant's civil calendar).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Day number since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "Sat 28 Nov 02:30 UTC".
pub fn format_utc(t: i64) -> String {
    let day = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let (_, m, d) = civil_from_days(day);
    let weekday = WEEKDAYS[(day + 4).rem_euclid(7) as usize];
    format!("{} {d} {} {:02}:{:02} UTC", &weekday[..3], MONTHS[m as usize - 1], secs / 3600, secs % 3600 / 60)
}

/// RFC 3339 UTC to the second (`2026-11-28T02:30:00Z`), the contract's PITR date format.
pub fn rfc3339(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// The value of an `<input type="datetime-local">` (UTC) for `t`: `2026-11-28T02:30:00`.
pub fn datetime_local(t: i64) -> String {
    rfc3339(t).trim_end_matches('Z').to_string()
}

/// Parses RFC 3339 UTC (`…Z`) or a `datetime-local` value taken as UTC (`2026-11-28T02:30[:00]`).
pub fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim().trim_end_matches('Z');
    let (date, time) = s.split_once('T')?;
    let mut dp = date.splitn(3, '-');
    let (y, m, d) = (dp.next()?.parse::<i64>().ok()?, dp.next()?.parse::<u32>().ok()?, dp.next()?.parse::<u32>().ok()?);
    let mut tp = time.splitn(3, ':');
    let (h, mi) = (tp.next()?.parse::<i64>().ok()?, tp.next()?.parse::<i64>().ok()?);
    let sec = tp.next().map(|x| x.parse::<i64>().ok()).unwrap_or(Some(0))?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let day = days_from_civil(y, m, d);
    // Refuse dates that roll over (31 February).
    (civil_from_days(day) == (y, m, d)).then_some(day * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picker_writes_cron_and_reads_it_back() {
        for f in [
            Frequency::Hourly { minute: 5 },
            Frequency::Daily { hour: 2, minute: 30 },
            Frequency::Weekly { weekday: 0, hour: 23, minute: 0 },
            Frequency::Monthly { day: 28, hour: 0, minute: 15 },
        ] {
            assert_eq!(Frequency::parse(&f.to_cron()), Some(f), "{}", f.to_cron());
        }
        assert_eq!(Frequency::from_fields("daily", "02:30", "", "").unwrap().to_cron(), "30 2 * * *");
        assert_eq!(Frequency::from_fields("weekly", "10:00", "1", "").unwrap().to_cron(), "0 10 * * 1");
        assert!(Frequency::from_fields("monthly", "10:00", "", "31").unwrap_err().contains("Day of the month"));
        assert!(Frequency::from_fields("daily", "25:00", "", "").unwrap_err().contains("Time"));
        assert_eq!(Frequency::parse("*/5 * * * *"), None);
        assert_eq!(Frequency::parse("0 0 1 1 *"), None, "a month is not a picker shape");
        assert_eq!(describe_cron("*/5 * * * *"), "Cron “*/5 * * * *” (UTC)");
        assert_eq!(describe_cron("0 3 * * 6"), "Every Saturday at 03:00 UTC");
    }

    #[test]
    fn next_runs_fall_on_the_schedule() {
        // 2026-11-27T18:41:00Z, a Friday.
        let now = parse_utc("2026-11-27T18:41:00Z").unwrap();
        assert_eq!(rfc3339(now), "2026-11-27T18:41:00Z");
        let r = |f: Frequency| f.next_runs(now, 2).into_iter().map(rfc3339).collect::<Vec<_>>();
        assert_eq!(r(Frequency::Hourly { minute: 5 }), ["2026-11-27T19:05:00Z", "2026-11-27T20:05:00Z"]);
        assert_eq!(r(Frequency::Daily { hour: 18, minute: 41 }), ["2026-11-28T18:41:00Z", "2026-11-29T18:41:00Z"], "strictly after now");
        assert_eq!(r(Frequency::Weekly { weekday: 1, hour: 2, minute: 0 }), ["2026-11-30T02:00:00Z", "2026-12-07T02:00:00Z"]);
        assert_eq!(r(Frequency::Monthly { day: 1, hour: 0, minute: 0 }), ["2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"]);
        assert_eq!(format_utc(parse_utc("2026-11-28T02:30:00Z").unwrap()), "Sat 28 Nov 02:30 UTC");
    }

    #[test]
    fn utc_parsing_takes_datetime_local_and_refuses_impossible_dates() {
        assert_eq!(parse_utc("2026-11-28T02:30"), parse_utc("2026-11-28T02:30:00Z"));
        assert_eq!(parse_utc("2026-02-31T00:00:00Z"), None);
        assert_eq!(parse_utc("yesterday"), None);
        let t = parse_utc("2024-02-29T23:59:59Z").unwrap();
        assert_eq!(datetime_local(t), "2024-02-29T23:59:59");
    }
}
