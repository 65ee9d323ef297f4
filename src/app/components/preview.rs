//! The Preview (beyond OpenEverest): the exact objects Cairn would write, as the API server answered their
//! dry runs. The create wizard shows it under the form, each edit dialog inside it.
use crate::model::PreviewOutcome;
use leptos::prelude::*;

/// The answer of a preview server action: "computing", the two YAML documents, or why there is none.
/// `in_dialog`: one column, for an edit dialog's width.
#[component]
pub fn PreviewPanel(
    #[prop(into)] pending: Signal<bool>,
    #[prop(into)] value: Signal<Option<Result<PreviewOutcome, ServerFnError>>>,
    #[prop(optional)] in_dialog: bool,
) -> impl IntoView {
    let (section, grid, pre) = if in_dialog {
        ("mt-2", "grid gap-3", "max-h-64 overflow-auto rounded bg-slate-900 p-3 text-xs text-slate-100")
    } else {
        ("mt-6 rounded-lg bg-white p-4 shadow sm:p-6", "grid gap-4 lg:grid-cols-2", "max-h-[32rem] overflow-auto rounded bg-slate-900 p-3 text-xs text-slate-100")
    };
    move || {
        if pending.get() {
            return view! { <p role="status" class="mt-2">"Computing the preview…"</p> }.into_any();
        }
        match value.get() {
            Some(Ok(PreviewOutcome { preview: Some(p), .. })) => view! {
                <section aria-labelledby="preview-title" class=section>
                    <h2 id="preview-title" class="text-lg font-semibold">"Preview"</h2>
                    <p class="mb-4 text-sm text-slate-600">
                        {if p.operation == "update" {
                            "Exactly what Cairn will write, as the API server accepted it in a dry run (nothing was changed). The operator's custom resource is computed by the same mapping the reconciler applies."
                        } else {
                            "Exactly what Cairn will write, as the API server accepted it in a dry run (nothing was created). The operator's custom resource is computed by the same mapping the reconciler applies; the database's UID and owner reference are added when it is created."
                        }}
                    </p>
                    <div class=grid>
                        <div class="min-w-0">
                            <h3 class="mb-1 font-semibold">"DatabaseCluster"</h3>
                            <pre aria-label="DatabaseCluster YAML" tabindex="0" class=pre>{p.database_cluster_yaml}</pre>
                        </div>
                        <div class="min-w-0">
                            <h3 class="mb-1 font-semibold">{p.upstream_kind.clone()}</h3>
                            <pre aria-label=format!("{} YAML", p.upstream_kind) tabindex="0" class=pre>{p.upstream_yaml}</pre>
                        </div>
                    </div>
                </section>
            }
            .into_any(),
            Some(Ok(PreviewOutcome { error: Some(e), .. })) => view! {
                <p role="alert" class="mt-2 text-sm text-red-700">{format!("No preview: {}", e.message)}</p>
            }
            .into_any(),
            _ => ().into_any(),
        }
    }
}
