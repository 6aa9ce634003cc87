{{/* The chart's name (nameOverride wins). */}}
{{- define "k8s-multicluster-mcp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: every object's name, and the Service's DNS name. */}}
{{- define "k8s-multicluster-mcp.fullname" -}}
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

{{- define "k8s-multicluster-mcp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "k8s-multicluster-mcp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "k8s-multicluster-mcp.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "k8s-multicluster-mcp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "k8s-multicluster-mcp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "k8s-multicluster-mcp.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the static token: the user's, or the chart's. */}}
{{- define "k8s-multicluster-mcp.tokenSecret" -}}
{{- default (printf "%s-token" (include "k8s-multicluster-mcp.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* The static token the chart's Secret holds: given, else the one installed before, else new. */}}
{{- define "k8s-multicluster-mcp.token" -}}
{{- if .Values.auth.token }}
{{- .Values.auth.token }}
{{- else }}
{{- $old := lookup "v1" "Secret" .Release.Namespace (include "k8s-multicluster-mcp.tokenSecret" .) }}
{{- if and $old $old.data (index $old.data "token") }}
{{- index $old.data "token" | b64dec }}
{{- else }}
{{- randAlphaNum 43 }}
{{- end }}
{{- end }}
{{- end }}

{{- define "k8s-multicluster-mcp.kubeconfigSecret" -}}
{{- default (printf "%s-kubeconfigs" (include "k8s-multicluster-mcp.fullname" .)) .Values.existingKubeconfigsSecret }}
{{- end }}

{{- define "k8s-multicluster-mcp.hasKubeconfigs" -}}
{{- if or .Values.kubeconfigs .Values.existingKubeconfigsSecret }}true{{ end }}
{{- end }}

{{/* Host header names: the Service's DNS names, the pod's IP (expanded by the kubelet), the user's. */}}
{{- define "k8s-multicluster-mcp.allowedHosts" -}}
{{- $svc := include "k8s-multicluster-mcp.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $hosts := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain) "$(POD_IP)" }}
{{- join "," (concat $hosts .Values.allowedHosts | uniq) }}
{{- end }}

{{/* Settings that cannot be checked by the schema alone; each failure is one line. */}}
{{- define "k8s-multicluster-mcp.validate" -}}
{{- if ge (int .Values.shutdownGrace) (int .Values.terminationGracePeriodSeconds) }}
{{- fail (printf "shutdownGrace (%v) must be below terminationGracePeriodSeconds (%v): the kubelet kills the pod at the latter" .Values.shutdownGrace .Values.terminationGracePeriodSeconds) }}
{{- end }}
{{- if eq (int .Values.port) (int .Values.healthPort) }}
{{- fail (printf "port and healthPort are both %v; give the health port another one" .Values.port) }}
{{- end }}
{{- if and (not .Values.auth.enabled) (not .Values.oidc.issuer) }}
{{- fail "auth.enabled is false and oidc.issuer is empty: the server needs a static token or an OIDC issuer to listen on the network" }}
{{- end }}
{{- if and .Values.auth.token .Values.auth.existingSecret }}
{{- fail "auth.token and auth.existingSecret are both set; give one of them" }}
{{- end }}
{{- if and .Values.auth.token (lt (len .Values.auth.token) 16) }}
{{- fail (printf "auth.token has %d characters; it needs at least 16 (e.g. openssl rand -base64 32)" (len .Values.auth.token)) }}
{{- end }}
{{- if and .Values.oidc.issuer (not .Values.oidc.audience) }}
{{- fail "oidc.issuer is set but oidc.audience is empty; set it to the aud your tokens carry (usually publicUrl)" }}
{{- end }}
{{- if and .Values.oidc.issuer (not .Values.publicUrl) }}
{{- fail "oidc.issuer is set but publicUrl is empty; set it to the MCP URL clients use (e.g. https://mcp.example.com/mcp)" }}
{{- end }}
{{- if and .Values.authorizeAsCaller (not .Values.oidc.issuer) (not (regexFind "--auth-token-map" (join " " .Values.extraArgs))) }}
{{- fail "authorizeAsCaller is true but oidc.issuer is empty: callers' identities come from their OIDC tokens (or an --auth-token-map file in extraArgs)" }}
{{- end }}
{{- if and .Values.kubeconfigs .Values.existingKubeconfigsSecret }}
{{- fail "kubeconfigs and existingKubeconfigsSecret are both set; give one of them" }}
{{- end }}
{{- end }}
