//! The browser side of the push stream (server-sent events fed by the server's watches): subscribe to some
//! event names of one URL until the calling component goes away. The browser reconnects by itself.
#[cfg(feature = "hydrate")]
pub fn subscribe(url: &str, events: &'static [&'static str], on: impl Fn(&str, String) + 'static) {
    use futures::StreamExt;
    use leptos::prelude::on_cleanup;
    let Ok(mut es) = gloo_net::eventsource::futures::EventSource::new(url) else {
        return;
    };
    let streams: Vec<_> = events.iter().filter_map(|e| es.subscribe(*e).ok()).map(|s| s.boxed_local()).collect();
    let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
    enum Msg {
        Data(String, String),
        Stop,
    }
    let data = futures::stream::select_all(streams)
        .filter_map(|ev| async move { ev.ok().and_then(|(name, m)| m.data().as_string().map(|d| Msg::Data(name, d))) });
    let stop = futures::stream::once(stop_rx).map(|_| Msg::Stop);
    let mut merged = Box::pin(futures::stream::select(data, stop));
    leptos::task::spawn_local(async move {
        while let Some(Msg::Data(name, data)) = merged.next().await {
            on(&name, data);
        }
        es.close();
    });
    on_cleanup(move || drop(stop_tx));
}
