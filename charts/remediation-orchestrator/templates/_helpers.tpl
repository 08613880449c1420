{{/* Prefix of every object name (fullnameOverride, else the release name). */}}
{{- define "ro.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "ro.workerName" -}}{{ include "ro.fullname" . }}-worker{{- end -}}
{{- define "ro.intakeName" -}}{{ include "ro.fullname" . }}-intake{{- end -}}

{{/* Labels every object carries. */}}
{{- define "ro.labels" -}}
app.kubernetes.io/part-of: remediation-orchestrator
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of a component: ro.selector (dict "ctx" $ "component" "worker"). */}}
{{- define "ro.selector" -}}
app.kubernetes.io/name: {{ include "ro.fullname" .ctx }}-{{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{- define "ro.componentLabels" -}}
{{ include "ro.selector" . }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/part-of: remediation-orchestrator
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{- define "ro.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{- define "ro.intakeTokenSecret" -}}
{{- default (printf "%s-intake-token" (include "ro.fullname" .)) .Values.intake.bearerTokenSecret.name -}}
{{- end -}}

{{/* TEMPORAL_* variables shared by the worker and the intake. */}}
{{- define "ro.temporalEnv" -}}
- name: TEMPORAL_ADDRESS
  value: {{ .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
{{- with .Values.temporal.apiKeySecret }}
{{- if .name }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .name }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* An intake probe with the scheme of the port (HTTPS when the intake serves TLS). */}}
{{- define "ro.intakeProbe" -}}
{{- $probe := deepCopy (index . 0) -}}
{{- if and $probe.httpGet (eq (index . 1) "HTTPS") -}}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" -}}
{{- end -}}
{{- toYaml $probe -}}
{{- end -}}
