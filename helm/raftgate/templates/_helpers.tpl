{{/*
Named templates of the raftgate chart. Each one that a parent chart may call
(raftgate.proxySidecar) reads only .Values, .Release and .Chart of the context
it is given, so a parent can pass (dict "Values" .Values.raftgate "Release"
.Release "Chart" (dict "Name" "raftgate")).

Container ports are fixed (2379 client, 2380 peer, 2381 native), as in etcd:
only Service ports are configurable, so member URLs never depend on values.
*/}}

{{- define "raftgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name: <release>-<chart>, or just <release> when it already contains the
chart name. Truncated to 40 characters so that <fullname>-core-headless and
the pod names built on it stay within Kubernetes' 63-character limit.
*/}}
{{- define "raftgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "raftgate.chart" -}}
{{- printf "%s-%s" .Chart.Name (.Chart.Version | default "0") | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every resource. Call with the root context. */}}
{{- define "raftgate.labels" -}}
helm.sh/chart: {{ include "raftgate.chart" . }}
app.kubernetes.io/name: {{ include "raftgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | default "unknown" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service | default "Helm" }}
app.kubernetes.io/part-of: raftgate
{{- range $key, $value := .Values.commonLabels }}
{{ $key }}: {{ $value | quote }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component. Call with (dict "root" $ "component" "core"). */}}
{{- define "raftgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "raftgate.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "raftgate.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "raftgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "raftgate.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* ---- core ---------------------------------------------------------- */}}

{{- define "raftgate.core.name" -}}
{{- printf "%s-core" (include "raftgate.fullname" .) -}}
{{- end -}}

{{- define "raftgate.core.headlessName" -}}
{{- printf "%s-core-headless" (include "raftgate.fullname" .) -}}
{{- end -}}

{{/* DNS suffix of member host names: <headless>.<namespace>.svc[.<clusterDomain>]. */}}
{{- define "raftgate.core.peerDomain" -}}
{{- $domain := printf "%s.%s.svc" (include "raftgate.core.headlessName" .) .Release.Namespace -}}
{{- if .Values.clusterDomain -}}
{{- $domain = printf "%s.%s" $domain .Values.clusterDomain -}}
{{- end -}}
{{- $domain -}}
{{- end -}}

{{/*
--initial-cluster: every member by its ordinal DNS name, which the headless
Service (publishNotReadyAddresses) resolves before any member is ready.
The advertised peer URL of pod <name> is http://<name>.<peerDomain>:2380,
exactly this entry, as `raftgate core` requires.
*/}}
{{- define "raftgate.core.initialCluster" -}}
{{- $name := include "raftgate.core.name" . -}}
{{- $domain := include "raftgate.core.peerDomain" . -}}
{{- $members := list -}}
{{- range $i := until (int .Values.core.replicas) -}}
{{- $members = append $members (printf "%s-%d=http://%s-%d.%s:2380" $name $i $name $i $domain) -}}
{{- end -}}
{{- join "," $members -}}
{{- end -}}

{{/* Client URLs of this release's members, comma-separated. */}}
{{- define "raftgate.core.clientUrls" -}}
{{- $name := include "raftgate.core.name" . -}}
{{- $domain := include "raftgate.core.peerDomain" . -}}
{{- $urls := list -}}
{{- range $i := until (int .Values.core.replicas) -}}
{{- $urls = append $urls (printf "http://%s-%d.%s:2379" $name $i $domain) -}}
{{- end -}}
{{- join "," $urls -}}
{{- end -}}

{{- define "raftgate.core.token" -}}
{{- .Values.core.initialClusterToken | default (include "raftgate.fullname" .) -}}
{{- end -}}

{{/* ---- shared pod pieces --------------------------------------------- */}}

{{/*
Pod anti-affinity of one component. Call with (dict "root" $ "component"
"core" "mode" <soft|hard|none> "topologyKey" <key>); renders nothing for none.
*/}}
{{- define "raftgate.podAntiAffinity" -}}
{{- $selector := include "raftgate.selectorLabels" (dict "root" .root "component" .component) -}}
{{- if eq .mode "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: {{ .topologyKey }}
      labelSelector:
        matchLabels:
          {{- $selector | nindent 10 }}
{{- else if eq .mode "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: {{ .topologyKey }}
        labelSelector:
          matchLabels:
            {{- $selector | nindent 12 }}
{{- end -}}
{{- end -}}

{{/* prometheus.io/* pod annotations for annotation-based discovery. Call with (dict "root" $ "port" 2379). */}}
{{- define "raftgate.scrapeAnnotations" -}}
{{- if .root.Values.metrics.scrapeAnnotations -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end -}}
{{- end -}}

{{/*
A probe run inside the container. The sidecar listens on 127.0.0.1, which the
kubelet's httpGet probes cannot reach (they dial the pod IP), so Node's own
fetch does the GET. Call with (dict "port" 2379 "path" "/ready" "probe"
<probe values>).
*/}}
{{- define "raftgate.loopbackProbe" -}}
exec:
  command:
    - node
    - -e
    - {{ printf "fetch('http://127.0.0.1:%d%s').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" (int .port) .path | quote }}
periodSeconds: {{ .probe.periodSeconds }}
timeoutSeconds: {{ .probe.timeoutSeconds }}
failureThreshold: {{ .probe.failureThreshold }}
{{- end -}}

{{/* ---- proxy ---------------------------------------------------------- */}}

{{/*
--endpoints of a proxy: the given list, or this release's members. Call with
(dict "root" $ "endpoints" <list>); fails when there is nothing to point at.
*/}}
{{- define "raftgate.proxyEndpoints" -}}
{{- if .endpoints -}}
{{- join "," .endpoints -}}
{{- else if .root.Values.core.enabled -}}
{{- include "raftgate.core.clientUrls" .root -}}
{{- else -}}
{{- fail "raftgate: core.enabled is false, so proxy.endpoints (and sidecar.endpoints) must list the core client URLs" -}}
{{- end -}}
{{- end -}}

{{/*
Arguments of `raftgate proxy`, shared by the Deployment and the sidecar so both
run with the same proxy.config. Integers go through int64: Helm reads numbers
in values as float64, and 1000000 printed bare is "1e+06", which the flag
parser refuses. Call with (dict "root" $ "mode" <mode> "listen" <urls>
"endpoints" <list>).
*/}}
{{- define "raftgate.proxyArgs" -}}
- proxy
- --mode={{ .mode }}
- --listen-client-urls={{ .listen }}
- --endpoints={{ include "raftgate.proxyEndpoints" (dict "root" .root "endpoints" .endpoints) }}
- "--max-staleness={{ .root.Values.proxy.config.maxStaleness }}"
- "--max-staleness-ceiling={{ .root.Values.proxy.config.maxStalenessCeiling }}"
- "--stale-if-error-ceiling={{ .root.Values.proxy.config.staleIfErrorCeiling }}"
- "--cache-bytes-max={{ .root.Values.proxy.config.cacheBytesMax }}"
- "--event-history-max={{ .root.Values.proxy.config.eventHistoryMax | int64 }}"
- "--connections-max={{ .root.Values.proxy.config.connectionsMax | int64 }}"
- "--connections-per-client-max={{ .root.Values.proxy.config.connectionsPerClientMax | int64 }}"
- "--inflight-max={{ .root.Values.proxy.config.inflightMax | int64 }}"
- "--watchers-max={{ .root.Values.proxy.config.watchersMax | int64 }}"
- "--watcher-buffer-max={{ .root.Values.proxy.config.watcherBufferMax | int64 }}"
- "--body-bytes-max={{ .root.Values.proxy.config.bodyBytesMax }}"
- "--header-timeout={{ .root.Values.proxy.config.headerTimeout }}"
- "--idle-timeout={{ .root.Values.proxy.config.idleTimeout }}"
- "--upstream-protocol={{ .root.Values.proxy.config.upstreamProtocol }}"
- "--upstream-timeout={{ .root.Values.proxy.config.upstreamTimeout }}"
- "--upstream-connections-per-member={{ .root.Values.proxy.config.upstreamConnectionsPerMember | int64 }}"
- "--health-check-interval={{ .root.Values.proxy.config.healthCheckInterval }}"
- "--log-level={{ .root.Values.proxy.config.logLevel }}"
{{- if and .root.Values.proxy.l2Redis.enabled (not .root.Values.proxy.l2Redis.existingSecret) }}
- "--l2-redis-url={{ required "raftgate: proxy.l2Redis.enabled needs proxy.l2Redis.url or proxy.l2Redis.existingSecret" .root.Values.proxy.l2Redis.url }}"
{{- end }}
{{- end -}}

{{/* Environment of a proxy container: the Redis URL from a Secret, when one is named. Call with the root context. */}}
{{- define "raftgate.proxyEnv" -}}
{{- if and .Values.proxy.l2Redis.enabled .Values.proxy.l2Redis.existingSecret -}}
- name: RAFTGATE_L2_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.proxy.l2Redis.existingSecret }}
      key: {{ .Values.proxy.l2Redis.existingSecretKey }}
{{- end -}}
{{- end -}}

{{/*
The sidecar: a proxy container to add beside an application, listening on
127.0.0.1:<sidecar.port> inside the app's pod, so the app talks to
localhost:2379 as it would to a local etcd. Renders one element of a
`containers:` list: include it with the root context and nindent it to the
list's column (README.md, "Sidecar mode", shows a parent chart doing so).
*/}}
{{- define "raftgate.proxySidecar" -}}
{{- $listen := printf "http://127.0.0.1:%d" (int .Values.sidecar.port) -}}
{{- if gt (int .Values.sidecar.scrapePort) 0 -}}
{{- if eq (int .Values.sidecar.scrapePort) (int .Values.sidecar.port) -}}
{{- fail "raftgate: sidecar.scrapePort must differ from sidecar.port" -}}
{{- end -}}
{{- $listen = printf "%s,http://$(POD_IP):%d" $listen (int .Values.sidecar.scrapePort) -}}
{{- end -}}
- name: raftgate-proxy
  image: {{ include "raftgate.image" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    {{- include "raftgate.proxyArgs" (dict "root" . "mode" .Values.sidecar.mode "listen" $listen "endpoints" .Values.sidecar.endpoints) | nindent 4 }}
  {{- $env := include "raftgate.proxyEnv" . }}
  {{- if or $env (gt (int .Values.sidecar.scrapePort) 0) }}
  env:
    {{- if gt (int .Values.sidecar.scrapePort) 0 }}
    - name: POD_IP
      valueFrom:
        fieldRef:
          fieldPath: status.podIP
    {{- end }}
    {{- if $env }}
    {{- $env | nindent 4 }}
    {{- end }}
  {{- end }}
  {{- if gt (int .Values.sidecar.scrapePort) 0 }}
  ports:
    - name: rg-metrics
      containerPort: {{ .Values.sidecar.scrapePort }}
      protocol: TCP
  {{- end }}
  readinessProbe:
    {{- include "raftgate.loopbackProbe" (dict "port" .Values.sidecar.port "path" "/ready" "probe" .Values.sidecar.readinessProbe) | nindent 4 }}
  livenessProbe:
    {{- include "raftgate.loopbackProbe" (dict "port" .Values.sidecar.port "path" "/health" "probe" .Values.sidecar.livenessProbe) | nindent 4 }}
  resources:
    {{- toYaml .Values.sidecar.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.containerSecurityContext | nindent 4 }}
{{- end -}}
