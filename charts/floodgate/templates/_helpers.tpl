{{/* Chart name, truncated to the 63-character label limit. */}}
{{- define "floodgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release name, plus the chart name unless the release already contains it. */}}
{{- define "floodgate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "floodgate.operatorName" -}}
{{- printf "%s-operator" (include "floodgate.fullname" .) }}
{{- end }}

{{- define "floodgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "floodgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "floodgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "floodgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: floodgate
{{- end }}

{{- define "floodgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "floodgate.operatorName" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "floodgate.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Refuse settings that would let two operators act at once. */}}
{{- define "floodgate.validate" -}}
{{- if and (gt (int .Values.operator.replicas) 1) (not .Values.leaderElection.enabled) }}
{{- fail "operator.replicas > 1 needs leaderElection.enabled=true: without a Lease every replica would reconcile" }}
{{- end }}
{{- if and .Values.leaderElection.enabled (le (int .Values.leaderElection.leaseDurationSeconds) (int .Values.leaderElection.renewDeadlineSeconds)) }}
{{- fail "leaderElection.leaseDurationSeconds must be greater than leaderElection.renewDeadlineSeconds" }}
{{- end }}
{{- if and .Values.leaderElection.enabled (le (int .Values.leaderElection.renewDeadlineSeconds) (int .Values.leaderElection.retryPeriodSeconds)) }}
{{- fail "leaderElection.renewDeadlineSeconds must be greater than leaderElection.retryPeriodSeconds" }}
{{- end }}
{{- end }}
