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

{{/* A value as an environment variable: whole numbers as plain digits (toString of YAML's float64 gives 3.6e+06, which the service refuses). */}}
{{- define "fhir-risk.envValue" -}}
{{- if and (kindIs "float64" .) (eq . (float64 (int64 .))) }}{{ int64 . }}{{ else }}{{ toString . }}{{ end }}
{{- end }}

{{/* A maintenance period as the service reads it: false (YAML's bare `off`) → off; numbers as plain digits. */}}
{{- define "fhir-risk.period" -}}
{{- if kindIs "bool" . }}off{{ else }}{{ include "fhir-risk.envValue" . }}{{ end }}
{{- end }}

{{/* Where the smart-backend private key Secret is mounted, and the key file in it (FHIR_PRIVATE_KEY_FILE). */}}
{{- define "fhir-risk.privateKeyDir" -}}/var/run/secrets/fhir-risk/smart-backend{{- end }}
{{- define "fhir-risk.privateKeyFile" -}}
{{- printf "%s/%s" (include "fhir-risk.privateKeyDir" .) .Values.fhir.auth.privateKeySecret.key }}
{{- end }}

{{/* The smart-backend key is mounted when FHIR_AUTH=smart-backend and its Secret is named. */}}
{{- define "fhir-risk.privateKeyMounted" -}}
{{- $a := .Values.fhir.auth }}
{{- if and (eq $a.type "smart-backend") $a.privateKeySecret.name }}true{{- end }}
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
      env:
        # Per container, not in the ConfigMap: the API and the workers may listen on different ports.
        - name: PORT
          value: {{ $v.containerPort | quote }}
      ports:
        - name: http
          containerPort: {{ $v.containerPort }}
          protocol: TCP
      {{- /* Liveness and startup probes use /healthz, which never touches Redis: a Redis outage must not restart pods. */}}
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
      {{- if and (eq .component "api") (gt (int $v.preStopSleepSeconds) 0) }}
      lifecycle:
        preStop:
          exec:
            command: ["sleep", {{ $v.preStopSleepSeconds | quote }}]
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
        {{- if include "fhir-risk.privateKeyMounted" $root }}
        - name: smart-backend-key
          mountPath: {{ include "fhir-risk.privateKeyDir" $root }}
          readOnly: true
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
    {{- if include "fhir-risk.privateKeyMounted" $root }}
    {{- $k := $root.Values.fhir.auth.privateKeySecret }}
    - name: smart-backend-key
      secret:
        secretName: {{ $k.name }}
        # Only the key file, readable by the pod's group (fsGroup) and nobody else.
        defaultMode: 0440
        items:
          - key: {{ $k.key }}
            path: {{ $k.key }}
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
