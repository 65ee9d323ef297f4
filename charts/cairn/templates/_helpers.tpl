{{/* Chart name, overridable. */}}
{{- define "cairn.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of every object. Defaults to "cairn" (not prefixed with the release name) so that the Service is
     always `svc/cairn`, as the docs and `kubectl port-forward` examples assume. */}}
{{- define "cairn.fullname" -}}
{{- default "cairn" .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the cluster-scoped objects: unique per release namespace. */}}
{{- define "cairn.clusterName" -}}
{{- printf "%s-%s" (include "cairn.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cairn.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cairn.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cairn.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cairn.labels" -}}
helm.sh/chart: {{ include "cairn.chart" . }}
{{ include "cairn.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: cairn
{{- end -}}

{{- define "cairn.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cairn.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The system namespace: accounts, JWT key, settings. */}}
{{- define "cairn.systemNamespace" -}}
{{- default .Release.Namespace .Values.systemNamespace -}}
{{- end -}}

{{/* Container port, taken from `listen` (host:port). */}}
{{- define "cairn.port" -}}
{{- splitList ":" .Values.listen | last | int -}}
{{- end -}}

{{- define "cairn.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The namespaces the admission webhook is asked about: `webhook.namespaceSelector`, else the managed ones
     (`dbNamespaces` by name, else `namespaceLabelSelector`'s key=value pairs). */}}
{{- define "cairn.webhookNamespaceSelector" -}}
{{- if .Values.webhook.namespaceSelector }}
{{- toYaml .Values.webhook.namespaceSelector }}
{{- else if .Values.dbNamespaces }}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: In
    values:
      {{- toYaml .Values.dbNamespaces | nindent 6 }}
{{- else }}
matchLabels:
  {{- range splitList "," .Values.namespaceLabelSelector }}
  {{- $kv := splitList "=" (trim .) }}
  {{ first $kv }}: {{ rest $kv | first | default "" | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/* One webhook of a configuration: dict root (the top context), name, path, resource, operations, caBundle;
optional group (default everest.percona.com), sideEffects (default None) and scope (default Namespaced; Cluster: no namespace selector,
the objects have no namespace, and the chart's own objects left out). */}}
{{- define "cairn.webhook" -}}
{{- $root := .root -}}
- name: {{ .name }}.cairn.everest.percona.com
  clientConfig:
    service:
      name: {{ include "cairn.fullname" $root }}
      namespace: {{ $root.Release.Namespace }}
      port: 443
      path: {{ .path }}
    {{- if .caBundle }}
    caBundle: {{ .caBundle | b64enc }}
    {{- end }}
  rules:
    - apiGroups: [{{ .group | default "everest.percona.com" | quote }}]
      apiVersions: ["v1alpha1"]
      resources: [{{ .resource | quote }}]
      operations: {{ toJson .operations }}
      scope: {{ .scope | default "Namespaced" }}
  {{- if ne (.scope | default "Namespaced") "Cluster" }}
  namespaceSelector:
    {{- include "cairn.webhookNamespaceSelector" $root | trim | nindent 4 }}
  {{- else }}
  {{- /* Not the chart's own defaults: they are installed with the webhook, before Cairn can answer. */}}
  objectSelector:
    matchExpressions:
      - key: app.kubernetes.io/part-of
        operator: NotIn
        values: ["cairn"]
  {{- end }}
  failurePolicy: {{ $root.Values.webhook.failurePolicy }}
  timeoutSeconds: {{ $root.Values.webhook.timeoutSeconds }}
  matchPolicy: Equivalent
  sideEffects: {{ .sideEffects | default "None" }}
  admissionReviewVersions: ["v1"]
{{- end }}

{{/* Leader election: asked for, or needed by more than one pod. */}}
{{- define "cairn.leaderElection" -}}
{{- if or .Values.leaderElection.enabled (gt (int .Values.replicaCount) 1) }}true{{- end }}
{{- end }}
