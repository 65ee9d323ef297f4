//! A database's connection credentials (`GET …/database-clusters/{name}/credentials`, the UI's "Reveal
//! password"): the only way a secret leaves Cairn. Authorised per database (`database-cluster-credentials`
//! read on `<ns>/<name>`), read from the users Secret at the moment of the request (never cached, never
//! rendered into a page), and every reveal is logged with who asked.
use super::authz::{self, authorize, res, Action};
use super::Caller;
use crate::crd::{DatabaseCluster, EngineType};
use crate::error::ApiError;
use crate::model::Credentials;
use crate::state::State;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use std::collections::BTreeMap;

pub async fn reveal(state: &State, caller: &Caller, ns: &str, name: &str) -> Result<Credentials, ApiError> {
    authorize(state, caller, res::DATABASE_CLUSTER_CREDENTIALS, Action::Read, &authz::object(ns, name))?;
    let db = super::find_database(state, ns, name)?;
    let secret_name = own_secret(&db)?;
    let secrets: Api<Secret> = Api::namespaced(state.client.clone(), ns);
    let secret = secrets.get_opt(&secret_name).await?.ok_or_else(|| {
        ApiError::new(
            404,
            format!("the credentials of {ns}/{name} do not exist yet (Secret {secret_name:?}); the operator creates them while the database starts"),
        )
    })?;
    let data: BTreeMap<String, String> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect();
    let creds = credentials(&db, &data)
        .ok_or_else(|| ApiError::new(404, format!("Secret {secret_name:?} of {ns}/{name} does not hold the administrator's credentials yet")))?;
    tracing::info!(target: "cairn::audit", user = %caller.username, namespace = %ns, database = %db.name_any(), "database credentials revealed");
    Ok(creds)
}

/// The users Secret the endpoint may read for `db`: only the one Cairn manages for it
/// (`everest-secrets-<name>`). A database whose `userSecretsName` names another Secret (written around
/// Cairn, e.g. with kubectl) gets 409: revealing it would hand out a Secret that is not this database's.
pub fn own_secret(db: &DatabaseCluster) -> Result<String, ApiError> {
    let own = crate::crd::bounds::own_user_secret(&db.name_any());
    let named = db.user_secrets_name();
    if named != own {
        tracing::warn!(target: "cairn::audit", namespace = ?db.namespace(), database = %db.name_any(), secret = %named, "credentials refused: userSecretsName is not the database's own Secret");
        return Err(ApiError::on_field(
            409,
            "spec.engine.userSecretsName",
            format!("names Secret {named:?}, not this database's own {own:?}; its credentials are not revealed"),
        ));
    }
    Ok(own)
}

/// The administrator's credentials and connection URL of a database, from its users Secret's data, in
/// OpenEverest's formats (contract §3.1). Pure; `None` when the Secret lacks the keys.
pub fn credentials(db: &DatabaseCluster, data: &BTreeMap<String, String>) -> Option<Credentials> {
    let st = db.status.clone().unwrap_or_default();
    let host = st.hostname.unwrap_or_default();
    let port = st.port.unwrap_or(db.spec.engine.type_.port());
    let (username, password) = match db.spec.engine.type_ {
        EngineType::Pxc => ("root".to_string(), data.get("root")?.clone()),
        EngineType::Postgresql => ("postgres".to_string(), data.get("password")?.clone()),
        EngineType::Psmdb => (data.get("MONGODB_DATABASE_ADMIN_USER")?.clone(), data.get("MONGODB_DATABASE_ADMIN_PASSWORD")?.clone()),
    };
    let (u, p) = (escape(&username), escape(&password));
    let connection_url = match db.spec.engine.type_ {
        EngineType::Pxc => format!("jdbc:mysql://{u}:{p}@{host}:{port}"),
        EngineType::Postgresql => format!("postgres://{u}:{p}@{host}:{port}"),
        // Sharded: mongos at host:port. A replica set: the status hostname (the member list) as it is.
        EngineType::Psmdb if db.spec.sharding.as_ref().is_some_and(|s| s.enabled) => format!("mongodb://{u}:{p}@{host}:{port}"),
        EngineType::Psmdb => format!("mongodb://{u}:{p}@{host}"),
    };
    Some(Credentials { connection_url, username, password })
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a userinfo part of a URL).
fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{DatabaseClusterStatus, Sharding};

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn ready(mut db: DatabaseCluster, host: &str) -> DatabaseCluster {
        db.status = Some(DatabaseClusterStatus { hostname: Some(host.into()), port: Some(db.spec.engine.type_.port()), ..Default::default() });
        db
    }

    #[test]
    fn formats_per_engine_with_escaped_passwords() {
        let pg = ready(crate::engine::fixture("pg", EngineType::Postgresql, "17.5.2", 1), "pg-pgbouncer.ns.svc");
        let c = credentials(&pg, &data(&[("password", "p@ss:w/rd")])).unwrap();
        assert_eq!(c.username, "postgres");
        assert_eq!(c.password, "p@ss:w/rd", "the password itself is not escaped");
        assert_eq!(c.connection_url, "postgres://postgres:p%40ss%3Aw%2Frd@pg-pgbouncer.ns.svc:5432");

        let pxc = ready(crate::engine::fixture("my", EngineType::Pxc, "8.0.42-33.1", 3), "my-haproxy.ns");
        let c = credentials(&pxc, &data(&[("root", "r00t")])).unwrap();
        assert_eq!(c.connection_url, "jdbc:mysql://root:r00t@my-haproxy.ns:3306");

        let rs = ready(crate::engine::fixture("m", EngineType::Psmdb, "8.0.12-4", 3), "m-rs0-0.ns,m-rs0-1.ns");
        let admin = data(&[("MONGODB_DATABASE_ADMIN_USER", "databaseAdmin"), ("MONGODB_DATABASE_ADMIN_PASSWORD", "x y")]);
        let c = credentials(&rs, &admin).unwrap();
        assert_eq!(c.connection_url, "mongodb://databaseAdmin:x%20y@m-rs0-0.ns,m-rs0-1.ns");
        let mut sharded = rs.clone();
        sharded.spec.sharding = Some(Sharding { enabled: true, shards: 2, ..Default::default() });
        assert_eq!(credentials(&sharded, &admin).unwrap().connection_url, "mongodb://databaseAdmin:x%20y@m-rs0-0.ns,m-rs0-1.ns:27017");
    }

    #[test]
    fn only_the_own_secret_is_read() {
        let mut db = crate::engine::fixture("dev-steal", EngineType::Postgresql, "17.5.2", 1);
        assert_eq!(own_secret(&db).unwrap(), "everest-secrets-dev-steal");
        db.spec.engine.user_secrets_name = Some("everest-secrets-dev-steal".into());
        assert_eq!(own_secret(&db).unwrap(), "everest-secrets-dev-steal");
        for other in ["everest-secrets-prod", "some-unrelated-secret"] {
            db.spec.engine.user_secrets_name = Some(other.into());
            let e = own_secret(&db).unwrap_err();
            assert_eq!((e.status, e.field.as_deref()), (409, Some("spec.engine.userSecretsName")), "{other}");
        }
    }

    #[test]
    fn missing_keys_are_none() {
        let pxc = crate::engine::fixture("my", EngineType::Pxc, "8.0.42-33.1", 1);
        assert!(credentials(&pxc, &data(&[("monitor", "m")])).is_none());
    }
}
