//! Operator charts from a private chart repository behind a login (`--helm.username`, the password from
//! CAIRN_HELM_PASSWORD or `--helm.password-file`): the shared operator charts are packaged into a real chart
//! repository (`helm package`, `helm repo index`) served with HTTP basic authentication, and the real Helm
//! pulls them through Cairn: refused without the login or with a wrong password, pulled with the right one,
//! and the password never on Helm's command line.
use crate::helm_util::{helm_bin, operator_charts};
use cairn::cli::charts::{find_local_chart, operator_chart_path, pinned_operators, write_db_namespace, OperatorSource, RepoAuth};
use std::path::PathBuf;

#[tokio::test]
async fn operator_charts_come_from_a_repository_behind_a_login() {
    let tmp = cairn::cli::TempDir::new().unwrap();
    let repo: PathBuf = tmp.0.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let helm = cairn::cli::Helm { bin: helm_bin(), kubeconfig: None };
    let ops = pinned_operators();
    for op in &ops {
        let dir = find_local_chart(&operator_charts(), &op.chart, &op.version).unwrap();
        helm.run(&["package".as_ref(), dir.as_os_str(), "-d".as_ref(), repo.as_os_str()]).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/charts/", listener.local_addr().unwrap());
    helm.run(&["repo".as_ref(), "index".as_ref(), repo.as_os_str(), "--url".as_ref(), url.as_ref()]).await.unwrap();

    // The repository: every request needs the login (as a private Harbor, Nexus or Artifactory would).
    use base64::Engine;
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("cairn:s3cret-pw"));
    let served = repo.clone();
    let app = axum::Router::new().fallback(move |headers: http::HeaderMap, uri: http::Uri| {
        let (expected, served) = (expected.clone(), served.clone());
        async move {
            use axum::response::IntoResponse;
            if headers.get(http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
                return (http::StatusCode::UNAUTHORIZED, [(http::header::WWW_AUTHENTICATE, "Basic realm=\"charts\"")]).into_response();
            }
            let file = uri.path().trim_start_matches("/charts/").replace("..", "");
            match std::fs::read(served.join(file)) {
                Ok(b) => b.into_response(),
                Err(_) => http::StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let source = |auth: RepoAuth| OperatorSource::Repository(url.clone(), auth);
    let err = write_db_namespace(&tmp.0.join("anonymous"), &ops, &source(RepoAuth::default()), &helm).await.unwrap_err();
    assert!(format!("{err:#}").contains("401"), "{err:#}");
    let wrong = RepoAuth { username: Some("cairn".into()), password: Some("not-it".into()), ..Default::default() };
    let err = write_db_namespace(&tmp.0.join("wrong"), &ops, &source(wrong), &helm).await.unwrap_err();
    let shown = format!("{err:#}");
    assert!(shown.contains("401") && !shown.contains("not-it"), "refused, and the password not shown: {shown}");

    let right = RepoAuth { username: Some("cairn".into()), password: Some("s3cret-pw".into()), ..Default::default() };
    let chart = write_db_namespace(&tmp.0.join("login"), &ops, &source(right.clone()), &helm).await.unwrap();
    for op in &ops {
        let path = operator_chart_path(&chart, op, &source(right.clone()));
        assert!(path.is_file(), "{} pulled: {}", op.chart, path.display());
    }
    // The rendered per-namespace chart has all three operators (Helm reads the pulled archives).
    let out = helm.run(&["template".as_ref(), "x".as_ref(), chart.as_os_str(), "--kube-version".as_ref(), "1.33.0".as_ref()]).await.unwrap();
    assert!(out.contains("kind: Deployment"), "{out}");

    // HelmArgs: the login from the flags, the password from the environment or a file.
    let pw = tmp.0.join("password");
    std::fs::write(&pw, "from-a-file\n").unwrap();
    let args = cairn::cli::HelmArgs { username: Some("cairn".into()), password_file: Some(pw), ..crate::helm_util::test_helm_args(&tmp.0) };
    assert_eq!(args.repo_auth().password.as_deref(), Some("from-a-file"), "the file's line break dropped");
}
