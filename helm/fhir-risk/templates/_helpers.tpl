{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "fhir-risk.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: the release name, with the chart name unless the release already holds it. */}}
{{- define "fhir-risk.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of one component's resources: <fullname>-api, <fullname>-worker. */}}
{{- define "fhir-risk.componentName" -}}
{{- printf "%s-%s" (include "fhir-risk.fullname" .root | trunc 56 | trimSuffix "-") .component }}
{{- end }}

{{- define "fhir-risk.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "fhir-risk.labels" -}}
helm.sh/chart: {{ include "fhir-risk.chart" . }}
{{ include "fhir-risk.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fhir-risk
{{- end }}

{{- define "fhir-risk.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fhir-risk.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component (dict root, component). */}}
{{- define "fhir-risk.componentLabels" -}}
{{ include "fhir-risk.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fhir-risk.componentSelectorLabels" -}}
{{ include "fhir-risk.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fhir-risk.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fhir-risk.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "fhir-risk.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The chart Secret exists only when a secret value is given inline. */}}
{{- define "fhir-risk.hasChartSecret" -}}
{{- if or .Values.notify.secret .Values.fhir.auth.bearerToken .Values.fhir.auth.clientSecret .Values.redis.url }}true{{- end }}
{{- end }}

{{/* MODELS_DIR: the extra-models mount, or nothing (the bundled models). */}}
{{- define "fhir-risk.modelsEnabled" -}}
{{- $e := .Values.models.extra }}
{{- if and $e.enabled (or $e.persistentVolumeClaim.claimName $e.configMap.name) }}true{{- end }}
{{- end }}

{{/*
Port of a URL: the explicit one, else 443 for https and 80 for http. Empty for an empty URL.
*/}}
{{- define "fhir-risk.urlPort" -}}
{{- if . }}
{{- $u := urlParse . }}
{{- $hostPort := splitList ":" $u.host }}
{{- if gt (len $hostPort) 1 }}{{ last $hostPort }}{{ else if eq $u.scheme "http" }}80{{ else }}443{{ end }}
{{- end }}
{{- end }}

{{/*
Pod spec shared by the API and worker Deployments.
dict: root, component (api|worker), args (the fhir-risk command), values (.Values.api/.worker).
*/}}
{{- define "fhir-risk.podTemplate" -}}
{{- $root := .root }}
{{- $v := .values }}
metadata:
  labels:
    {{- include "fhir-risk.componentLabels" . | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum }}
    checksum/secret: {{ include (print $root.Template.BasePath "/secret.yaml") $root | sha256sum }}
    {{- with $v.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "fhir-risk.serviceAccountName" $root }}
  automountServiceAccountToken: {{ $root.Values.serviceAccount.automountToken }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  containers:
    - name: {{ .component }}
      image: {{ include "fhir-risk.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args: [{{ .args | quote }}]
      envFrom:
        - configMapRef:
            name: {{ include "fhir-risk.fullname" $root }}
        {{- if include "fhir-risk.hasChartSecret" $root }}
        - secretRef:
            name: {{ include "fhir-risk.fullname" $root }}
        {{- end }}
        {{- with $root.Values.existingSecret }}
        - secretRef:
            name: {{ . }}
        {{- end }}
      {{- if eq .component "api" }}
      ports:
        - name: http
          containerPort: {{ $v.containerPort }}
          protocol: TCP
      {{- with $v.startupProbe }}
      {{- if .enabled }}
      startupProbe:
        httpGet: {path: /healthz, port: http}
        periodSeconds: {{ .periodSeconds }}
        timeoutSeconds: {{ .timeoutSeconds }}
        failureThreshold: {{ .failureThreshold }}
      {{- end }}
      {{- end }}
      {{- with $v.livenessProbe }}
      {{- if .enabled }}
      livenessProbe:
        httpGet: {path: /healthz, port: http}
        initialDelaySeconds: {{ .initialDelaySeconds }}
        periodSeconds: {{ .periodSeconds }}
        timeoutSeconds: {{ .timeoutSeconds }}
        failureThreshold: {{ .failureThreshold }}
      {{- end }}
      {{- end }}
      {{- with $v.readinessProbe }}
      {{- if .enabled }}
      readinessProbe:
        httpGet: {path: /readyz, port: http}
        initialDelaySeconds: {{ .initialDelaySeconds }}
        periodSeconds: {{ .periodSeconds }}
        timeoutSeconds: {{ .timeoutSeconds }}
        failureThreshold: {{ .failureThreshold }}
      {{- end }}
      {{- end }}
      {{- if gt (int $v.preStopSleepSeconds) 0 }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", {{ $v.preStopSleepSeconds | quote }}]
      {{- end }}
      {{- else }}
      {{- with $v.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- end }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if include "fhir-risk.modelsEnabled" $root }}
        - name: models
          mountPath: {{ $root.Values.models.extra.mountPath }}
          readOnly: true
          {{- with $root.Values.models.extra.persistentVolumeClaim.subPath }}
          subPath: {{ . }}
          {{- end }}
        {{- end }}
        {{- with $root.Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $root.Values.tmpSizeLimit }}
    {{- if include "fhir-risk.modelsEnabled" $root }}
    {{- $e := $root.Values.models.extra }}
    - name: models
      {{- if $e.persistentVolumeClaim.claimName }}
      persistentVolumeClaim:
        claimName: {{ $e.persistentVolumeClaim.claimName }}
        readOnly: true
      {{- else }}
      configMap:
        name: {{ $e.configMap.name }}
        {{- with $e.configMap.items }}
        items:
          {{- toYaml . | nindent 10 }}
        {{- end }}
      {{- end }}
    {{- end }}
    {{- with $root.Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* PodDisruptionBudget spec body (dict root, component, pdb). */}}
{{- define "fhir-risk.pdbSpec" -}}
{{- if and (ne (toString .pdb.maxUnavailable) "") (ne (toString .pdb.maxUnavailable) "<nil>") }}
maxUnavailable: {{ .pdb.maxUnavailable }}
{{- else }}
minAvailable: {{ .pdb.minAvailable }}
{{- end }}
selector:
  matchLabels:
    {{- include "fhir-risk.componentSelectorLabels" . | nindent 4 }}
{{- end }}
