//! Server functions of the backup UI: Settings → Storage locations, a database's Backups and Restores tabs
//! (back up now, schedules, PITR, restores) and the create form's backup step. Each resolves the caller and
//! calls `service` (backup_storage, backups, schedules, restores), as the REST handlers do.
use crate::model::backups::StoragePage;
use crate::model::FieldError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::server_fns::server;

/// `YYYYMMDDhhmmss` (UTC) for generated object names.
#[cfg(feature = "ssr")]
fn stamp() -> String {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    crate::model::backups::rfc3339(now).chars().filter(|c| c.is_ascii_digit()).collect()
}

/// A service error on one of a form's inputs (`map` from the error's field path to the input's name) as
/// `Ok(Some(FieldError))`, shown beside it; any other error fails the call.
#[cfg(feature = "ssr")]
fn on_input(e: crate::error::ApiError, map: fn(&str) -> Option<&'static str>) -> Result<Option<FieldError>, ServerFnError> {
    let path = e.field.clone().unwrap_or_default();
    let Some(input) = map(&path) else { return Err(server::to_sfe(e)) };
    let rule = e.message.strip_prefix(&format!("{path}: ")).unwrap_or(&e.message).to_string();
    Ok(Some(FieldError { field: input.into(), message: rule }))
}

#[cfg(feature = "ssr")]
fn storage_input(path: &str) -> Option<&'static str> {
    Some(match path {
        "name" => "name",
        "type" => "kind",
        "bucketName" => "bucket_name",
        "region" => "region",
        "url" => "url",
        "accessKey" => "access_key",
        "secretKey" => "secret_key",
        "caBundle" => "ca_bundle",
        "description" => "description",
        _ => return None,
    })
}

/// The schedule form's and the wizard's backup inputs by the field paths the rules name.
#[cfg(feature = "ssr")]
pub fn schedule_input(path: &str) -> Option<&'static str> {
    if path.starts_with("spec.backup.pitr") {
        return Some("pitr_storage");
    }
    if path.starts_with("spec.dataSource.backupSource.path") {
        return Some("from_path");
    }
    if path.starts_with("spec.dataSource.backupSource") {
        return Some("from_storage");
    }
    if path.starts_with("spec.dataSource.pitr") {
        return Some("from_pitr_date");
    }
    if path.starts_with("spec.dataSource") {
        return Some("from_backup");
    }
    let rest = path.strip_prefix("spec.backup.schedules")?;
    let leaf = rest.rsplit('.').next().unwrap_or("");
    Some(match leaf {
        "name" => "schedule_name",
        "schedule" => "schedule_time",
        "retentionCopies" => "schedule_retention",
        "backupStorageName" => "schedule_storage",
        _ => "schedule_time",
    })
}

/// Every storage location the caller may read (filtered per item), with the row actions it may take.
#[server(endpoint = "list_storage_locations")]
pub async fn list_storage_locations() -> Result<StoragePage, ServerFnError> {
    use crate::service::authz::{can, can_in_namespace, object, res, Action};
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let mut page = StoragePage::default();
    for ns in st.managed_namespaces() {
        for storage in crate::service::backup_storage::list(&st, &caller, &ns).map_err(server::to_sfe)? {
            let o = object(&ns, &storage.name);
            page.rows.push(crate::model::backups::StorageRow {
                can_update: can(&st, &caller, res::BACKUP_STORAGES, Action::Update, &o),
                can_delete: can(&st, &caller, res::BACKUP_STORAGES, Action::Delete, &o),
                storage,
            });
        }
        if can_in_namespace(&st, &caller, res::BACKUP_STORAGES, Action::Create, &ns) {
            page.create_namespaces.push(ns);
        }
    }
    Ok(page)
}

/// Adds a storage location, or with `edit` set changes one (empty keys keep the stored ones). The live
/// access check runs first; what it refuses comes back beside the field it concerns.
#[server(endpoint = "save_storage_location")]
#[allow(clippy::too_many_arguments)]
pub async fn save_storage_location(
    namespace: String,
    name: String,
    edit: Option<String>,
    kind: Option<String>,
    bucket_name: String,
    region: String,
    url: String,
    access_key: String,
    secret_key: String,
    verify_tls: Option<String>,
    force_path_style: Option<String>,
    description: Option<String>,
) -> Result<Option<FieldError>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let editing = edit.as_deref() == Some("on");
    let set = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let dto = crate::model::BackupStorageDto {
        name: name.trim().to_string(),
        namespace: None,
        description: description.map(|d| d.trim().to_string()),
        type_: kind.and_then(set).filter(|_| !editing),
        bucket_name: set(bucket_name),
        access_key: set(access_key),
        secret_key: set(secret_key),
        // An edit that clears the endpoint or the region means it.
        url: if editing { Some(url.trim().to_string()) } else { set(url) },
        region: if editing { Some(region.trim().to_string()) } else { set(region) },
        // Unticked checkboxes are absent from the form.
        verify_tls: Some(verify_tls.as_deref() == Some("on")),
        force_path_style: Some(force_path_style.as_deref() == Some("on")),
        allowed_namespaces: None,
        ca_bundle: None,
        in_use: false,
    };
    let saved = if editing {
        crate::service::backup_storage::update(&st, &caller, &namespace, &name, dto).await
    } else {
        crate::service::backup_storage::create(&st, &caller, &namespace, dto).await
    };
    match saved {
        Ok(_) => Ok(None),
        Err(e) => on_input(e, storage_input),
    }
}

#[server(endpoint = "delete_storage_location")]
pub async fn delete_storage_location(namespace: String, name: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::backup_storage::delete(&st, &caller, &namespace, &name).await.map_err(server::to_sfe)
}

/// "Back up now": an on-demand backup of the database into `storage`; returns the backup's name.
#[server(endpoint = "back_up_now")]
pub async fn back_up_now(namespace: String, name: String, storage: String) -> Result<String, ServerFnError> {
    use crate::crd::{DatabaseClusterBackup, DatabaseClusterBackupSpec};
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let b = DatabaseClusterBackup::new(&format!("{name}-{}", stamp()), DatabaseClusterBackupSpec { db_cluster_name: name, backup_storage_name: storage });
    let created = crate::service::backups::create(&st, &caller, &namespace, b).await.map_err(server::to_sfe)?;
    Ok(kube::ResourceExt::name_any(&created))
}

/// Deletes a backup; its data stays in storage unless `delete_data` is on.
#[server(endpoint = "delete_backup")]
pub async fn delete_backup(namespace: String, backup: String, delete_data: Option<String>) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::backups::delete(&st, &caller, &namespace, &backup, delete_data.as_deref() == Some("on")).await.map_err(server::to_sfe)
}

/// The schedule the frequency picker's inputs describe.
#[cfg(feature = "ssr")]
pub fn schedule_from_fields(f: &std::collections::BTreeMap<String, String>) -> Result<crate::crd::BackupSchedule, FieldError> {
    use crate::model::backups::Frequency;
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).unwrap_or_default();
    let field = |f: &str, m: String| FieldError { field: f.into(), message: m };
    let freq = Frequency::from_fields(&get("schedule_kind"), &get("schedule_time"), &get("schedule_weekday"), &get("schedule_day")).map_err(|m| {
        let input = if m.starts_with("Day of the week") { "schedule_weekday" } else if m.starts_with("Day of the month") { "schedule_day" } else { "schedule_time" };
        field(input, m)
    })?;
    let retention = match get("schedule_retention").as_str() {
        "" => None,
        r => Some(r.parse::<i32>().map_err(|_| field("schedule_retention", "Copies to keep: must be a whole number".into()))?),
    };
    let name = match get("schedule_name") {
        n if n.is_empty() => format!("{}-backup", freq.kind()),
        n => n,
    };
    Ok(crate::crd::BackupSchedule {
        enabled: f.get("schedule_enabled").is_none_or(|v| v == "on"),
        name,
        retention_copies: retention,
        schedule: freq.to_cron(),
        backup_storage_name: get("schedule_storage"),
    })
}

/// The create form's backup step: a schedule when `backup_schedule` is on, PITR when `pitr` is on, and the
/// backup to start from (`from_backup`, with `from_pitr_type` latest|date and `from_pitr_date`) when the
/// form was opened from a backup.
#[cfg(feature = "ssr")]
pub fn backup_from_form(
    f: &std::collections::BTreeMap<String, String>,
) -> Result<(Option<crate::crd::Backup>, Option<crate::crd::DataSource>), FieldError> {
    use crate::crd::*;
    let on = |k: &str| f.get(k).is_some_and(|v| v == "on");
    let get = |k: &str| f.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let mut backup = Backup::default();
    if on("backup_schedule") {
        backup.schedules.push(schedule_from_fields(f)?);
    }
    if on("pitr") {
        backup.pitr = Some(PitrSpec { enabled: true, backup_storage_name: get("pitr_storage"), upload_interval_sec: None });
    }
    let backup = (!backup.schedules.is_empty() || backup.pitr.is_some()).then_some(backup);
    // A backup in a storage location, by its path (`from_storage` + `from_path`): both or neither.
    let path_source = match (get("from_storage"), get("from_path")) {
        (None, None) => None,
        (Some(_), None) => {
            return Err(FieldError { field: "from_path".into(), message: "Backup path: enter the backup's path in the storage location (e.g. s3://bucket/db/backup)".into() })
        }
        (None, Some(_)) => {
            return Err(FieldError { field: "from_storage".into(), message: "Storage location: choose the storage location the backup is in".into() })
        }
        (Some(storage), Some(path)) => Some(BackupSource { path, backup_storage_name: storage }),
    };
    let source = (get("from_backup").is_some() || path_source.is_some()).then(|| {
        let pitr = point_in_time(&get("from_pitr_type").unwrap_or_default(), get("from_pitr_date"));
        DataSource { db_cluster_backup_name: get("from_backup"), backup_source: path_source, pitr, ..Default::default() }
    });
    Ok((backup, source))
}

/// A `datetime-local` value (UTC) as the contract's date (`2006-01-02T15:04:05Z`); anything else as typed
/// (the service then names the rule).
#[cfg(feature = "ssr")]
fn normalise_date(d: &str) -> String {
    crate::model::backups::parse_utc(d).map(crate::model::backups::rfc3339).unwrap_or_else(|| d.to_string())
}

/// Adds a schedule to a database, or with `replaces` set changes that one.
#[server(endpoint = "save_schedule")]
#[allow(clippy::too_many_arguments)]
pub async fn save_schedule(
    namespace: String,
    name: String,
    replaces: Option<String>,
    schedule_name: String,
    schedule_kind: String,
    schedule_time: String,
    schedule_weekday: Option<String>,
    schedule_day: Option<String>,
    schedule_retention: String,
    schedule_storage: String,
    schedule_enabled: Option<String>,
) -> Result<Option<FieldError>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let fields: std::collections::BTreeMap<String, String> = [
        ("schedule_name", Some(schedule_name)),
        ("schedule_kind", Some(schedule_kind)),
        ("schedule_time", Some(schedule_time)),
        ("schedule_weekday", schedule_weekday),
        ("schedule_day", schedule_day),
        ("schedule_retention", Some(schedule_retention)),
        ("schedule_storage", Some(schedule_storage)),
        ("schedule_enabled", Some(schedule_enabled.unwrap_or_else(|| "off".into()))),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
    .collect();
    let s = match schedule_from_fields(&fields) {
        Ok(s) => s,
        Err(e) => return Ok(Some(e)),
    };
    let replaces = replaces.filter(|r| !r.is_empty());
    match crate::service::schedules::save(&st, &caller, &namespace, &name, replaces.as_deref(), s).await {
        Ok(()) => Ok(None),
        Err(e) => on_input(e, schedule_input),
    }
}

#[server(endpoint = "set_schedule_enabled")]
pub async fn set_schedule_enabled(namespace: String, name: String, schedule: String, enabled: bool) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::schedules::set_enabled(&st, &caller, &namespace, &name, &schedule, enabled).await.map_err(server::to_sfe)
}

#[server(endpoint = "delete_schedule")]
pub async fn delete_schedule(namespace: String, name: String, schedule: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::schedules::delete(&st, &caller, &namespace, &name, &schedule).await.map_err(server::to_sfe)
}

/// PITR on (`pitr` = on, with `pitr_storage`) or off.
#[server(endpoint = "set_pitr")]
pub async fn set_pitr(namespace: String, name: String, pitr: Option<String>, pitr_storage: Option<String>) -> Result<Option<FieldError>, ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    match crate::service::schedules::set_pitr(&st, &caller, &namespace, &name, pitr.as_deref() == Some("on"), pitr_storage).await {
        Ok(()) => Ok(None),
        Err(e) => on_input(e, schedule_input),
    }
}

/// Restores a database in place from `backup`: as it is (`point` = backup), to the latest restorable
/// moment (`latest`), or to `date` (`date`, UTC).
#[server(endpoint = "restore_backup")]
pub async fn restore_backup(namespace: String, name: String, backup: String, point: String, date: Option<String>) -> Result<Option<FieldError>, ServerFnError> {
    use crate::crd::database_cluster_restore::*;
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let pitr = point_in_time(&point, date);
    let r = DatabaseClusterRestore::new(
        &format!("{name}-restore-{}", stamp()),
        DatabaseClusterRestoreSpec { db_cluster_name: name, data_source: RestoreDataSource { db_cluster_backup_name: Some(backup), backup_source: None, pitr } },
    );
    match crate::service::restores::create(&st, &caller, &namespace, r).await {
        Ok(_) => Ok(None),
        Err(e) => on_input(e, restore_input),
    }
}

/// A restore dialog's "Restore to": `backup` (as backed up: no PITR), `latest`, or `date` (a `datetime-local`
/// value, UTC).
#[cfg(feature = "ssr")]
fn point_in_time(point: &str, date: Option<String>) -> Option<crate::crd::Pitr> {
    use crate::crd::{Pitr, PitrType};
    match point {
        "latest" => Some(Pitr { type_: PitrType::Latest, date: None }),
        "date" => Some(Pitr { type_: PitrType::Date, date: date.map(|d| normalise_date(&d)) }),
        _ => None,
    }
}

/// The restore form's inputs by the field paths the rules name: the storage and the path of a backup in a
/// storage location, and the point in time.
#[cfg(feature = "ssr")]
pub fn restore_input(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("spec.dataSource")?;
    Some(if rest.starts_with(".backupSource.path") {
        "path"
    } else if rest.starts_with(".backupSource") {
        "storage"
    } else if rest.starts_with(".pitr") {
        "date"
    } else {
        return None;
    })
}

/// Restores a database in place from a backup in a storage location, by its path (`s3://bucket/…` as the
/// Backups tab shows a backup's location, or the path inside the bucket): e.g. a backup of a database that
/// no longer exists; as it was backed up (`point` = backup), to the latest moment the storage's logs reach
/// (`latest`) or to `date` (`date`, UTC). The rules are the REST API's (`spec.dataSource.backupSource`,
/// `spec.dataSource.pitr`); a refused input comes back beside it.
#[server(endpoint = "restore_from_path")]
pub async fn restore_from_path(
    namespace: String,
    name: String,
    storage: String,
    path: String,
    point: String,
    date: Option<String>,
) -> Result<Option<FieldError>, ServerFnError> {
    use crate::crd::database_cluster_restore::*;
    use crate::crd::BackupSource;
    let (storage, path) = (storage.trim().to_string(), path.trim().to_string());
    if storage.is_empty() {
        return Ok(Some(FieldError { field: "storage".into(), message: "choose the storage location the backup is in".into() }));
    }
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    let r = DatabaseClusterRestore::new(
        &format!("{name}-restore-{}", stamp()),
        DatabaseClusterRestoreSpec {
            db_cluster_name: name,
            data_source: RestoreDataSource {
                db_cluster_backup_name: None,
                backup_source: Some(BackupSource { path, backup_storage_name: storage }),
                pitr: point_in_time(&point, date),
            },
        },
    );
    match crate::service::restores::create(&st, &caller, &namespace, r).await {
        Ok(_) => Ok(None),
        Err(e) => on_input(e, restore_input),
    }
}

#[server(endpoint = "delete_restore")]
pub async fn delete_restore(namespace: String, restore: String) -> Result<(), ServerFnError> {
    let st = server::state()?;
    let caller = server::caller(&st).await?;
    crate::service::restores::delete(&st, &caller, &namespace, &restore).await.map_err(server::to_sfe)
}
