#!/usr/bin/env bash
# Renders docvault's ECS task definition (infra/ecs-task-def.json.template)
# from the environment, checks it, and (only with --register) registers it and
# points the ECS service at it.
#
# Usage: ./deploy.sh [--example] [--output FILE] [--policies DIR] [--docvault BIN]
#                    [--register [--wait]]
#
#   --output FILE    where the task definition goes (default: build/ecs-task-def.json)
#   --policies DIR   also render the IAM policies of infra/iam/ into DIR, and
#                    subscription-attributes.json: the entity-events
#                    subscription's SNS filter policy (FilterPolicyScope
#                    MessageBody) on the actions DOCUMENT_CONSUMER_ACTIONS handles
#   --docvault BIN   check the rendered environment with `BIN config check`
#                    (default: $DOCVAULT_BIN, else build/release/docvault or
#                    build/debug/docvault if built, else skipped)
#   --example        use example values for the required inputs that are not
#                    set (for tests and documentation; refuses --register)
#   --register       aws ecs register-task-definition, then update-service when
#                    ECS_CLUSTER and ECS_SERVICE are set
#   --wait           after update-service, wait until the service is stable
#
# Every docvault variable (see `docvault config docs`) is taken from the
# environment, or gets its default here; the spec's defaults are
# ENABLE_DOCUMENT_CONSUMER=true, DOCUMENT_CONSUMER_MAX_MESSAGES=5 and
# DOCUMENT_CONSUMER_WAIT_TIME=20. Deployment inputs:
#
#   DOCVAULT_IMAGE            the container image (required)
#   ECS_TASK_ROLE_ARN         the task role: infra/iam/task-role-policy.json (required)
#   ECS_EXECUTION_ROLE_ARN    the execution role: pulls the image, writes logs, reads
#                             the secret (infra/iam/execution-role-policy.json) (required)
#   DOCVAULT_JWT_SECRET_ARN   Secrets Manager secret or SSM parameter holding
#                             DOCVAULT_JWT_SECRET, the HS256 token key (required;
#                             for RS256/ES256 keys, ship the key file in the image
#                             and set DOCVAULT_JWT_PUBLIC_KEY_FILE instead, editing
#                             the template's secrets)
#   DATABASE_URL_SECRET_ARN   Secrets Manager secret or SSM parameter holding
#                             DATABASE_URL (required)
#   DOCUMENT_VAULT_SQS_URL    required while ENABLE_DOCUMENT_CONSUMER is true
#   AUDIT_SNS_TOPIC_ARN, DOCUMENT_EVENTS_SQS_URL
#                             required while DOCVAULT_OUTBOX_RELAY_ENABLED is true
#   DOCVAULT_S3_BUCKET        required while DOCVAULT_BLOB_STORE is s3
#   EPR_ENTITY_EVENTS_TOPIC_ARN  the EPR topic the queue subscribes to (--policies only)
#   AWS_REGION                default: AWS_DEFAULT_REGION, else the queue URL's region
#   ECS_TASK_FAMILY=docvault  ECS_TASK_CPU=512  ECS_TASK_MEMORY=1024
#   ECS_CPU_ARCHITECTURE=X86_64  ECS_LOG_GROUP=/ecs/docvault
#   ECS_CLUSTER, ECS_SERVICE  the service --register updates (optional)
#
# Exit codes: 0 rendered (and registered), 2 a missing or invalid input (the
# message names the variable), 1 anything else.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "deploy: $*" >&2; exit 1; }
input_error() { echo "deploy: $*" >&2; exit 2; }

output=$root/build/ecs-task-def.json
policies_dir=
docvault_bin=${DOCVAULT_BIN:-}
example=false
register=false
wait_stable=false
while (($# > 0)); do
  case $1 in
    --output) (($# >= 2)) || input_error "--output needs a file"; output=$2; shift 2 ;;
    --policies) (($# >= 2)) || input_error "--policies needs a directory"; policies_dir=$2; shift 2 ;;
    --docvault) (($# >= 2)) || input_error "--docvault needs a path"; docvault_bin=$2; shift 2 ;;
    --example) example=true; shift ;;
    --register) register=true; shift ;;
    --wait) wait_stable=true; shift ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) input_error "unknown argument: $1 (try --help)" ;;
  esac
done
if $register && $example; then
  input_error "--register refuses --example: example values are not a deployment"
fi

# docvault's variables and the defaults deployed. They are docvault's own
# defaults, except the data directory, which is the image's.
docvault_defaults=(
  DOCVAULT_DATA_DIR=/var/lib/docvault
  DOCVAULT_HTTP_ADDR=0.0.0.0:8080
  DOCVAULT_MAX_UPLOAD_BYTES=52428800
  DOCVAULT_HTTP_MAX_CONNECTIONS=512
  DOCVAULT_HTTP_THREADS=16
  DOCVAULT_HTTP_HEADER_TIMEOUT_SECONDS=10
  DOCVAULT_HTTP_MAX_HEADER_BYTES=16384
  DOCVAULT_HTTP_KEEPALIVE_TIMEOUT_SECONDS=5
  DOCVAULT_HTTP_KEEPALIVE_MAX_REQUESTS=100
  DOCVAULT_HTTP_READ_TIMEOUT_SECONDS=10
  DOCVAULT_HTTP_WRITE_TIMEOUT_SECONDS=30
  DOCVAULT_AUTH=enabled
  DOCVAULT_JWT_PUBLIC_KEY_FILE=
  DOCVAULT_JWT_ISSUER=
  DOCVAULT_JWT_AUDIENCE=
  DOCVAULT_JWT_LEEWAY_SECONDS=60
  DOCVAULT_METRICS_AUTH=open
  DOCVAULT_AUTO_MIGRATE=true
  DOCVAULT_DB_POOL_SIZE=8
  LOG_LEVEL=info
  LOG_FORMAT=json
  ENABLE_DOCUMENT_CONSUMER=true
  DOCUMENT_VAULT_SQS_URL=
  DOCUMENT_CONSUMER_MAX_MESSAGES=5
  DOCUMENT_CONSUMER_WAIT_TIME=20
  DOCUMENT_CONSUMER_VISIBILITY_TIMEOUT=
  DOCUMENT_CONSUMER_RETRY_BASE_SECONDS=2
  DOCUMENT_CONSUMER_RETRY_MAX_SECONDS=300
  DOCUMENT_CONSUMER_CONCURRENCY=4
  DOCUMENT_CONSUMER_SHUTDOWN_TIMEOUT=25
  DOCUMENT_CONSUMER_DLQ_URL=
  DOCUMENT_CONSUMER_ACTIONS=entity.deleted,entity.suspended,entity.reinstated
  DOCUMENT_CONSUMER_UNKNOWN_ACTIONS=ignore
  DOCUMENT_CONSUMER_DEDUP_RETENTION_DAYS=45
  DOCUMENT_CONSUMER_REJECTED_RETENTION_DAYS=90
  DOCUMENT_CONSUMER_VERIFY_SNS_SIGNATURE=false
  DOCUMENT_CONSUMER_ALLOWED_TOPIC_ARNS=
  DOCVAULT_IDEMPOTENCY_KEY_RETENTION_HOURS=24
  DOCVAULT_OUTBOX_RELAY_ENABLED=true
  AUDIT_SNS_TOPIC_ARN=
  DOCUMENT_EVENTS_SQS_URL=
  DOCVAULT_OUTBOX_RETENTION_HOURS=168
  DOCVAULT_OUTBOX_LEASE_SECONDS=30
  DOCVAULT_BLOB_STORE=filesystem
  DOCVAULT_S3_BUCKET=
  DOCVAULT_S3_PREFIX=blobs/
  DOCVAULT_S3_FORCE_PATH_STYLE=false
  DOCVAULT_S3_SSE=
  DOCVAULT_S3_KMS_KEY_ID=
  DOCVAULT_AWS_REQUEST_TIMEOUT_SECONDS=30
  DOCVAULT_S3_PRESIGN_SECONDS=300
  DOCVAULT_BLOB_GC_GRACE_SECONDS=3600
)
deployment_defaults=(
  ECS_TASK_FAMILY=docvault
  ECS_TASK_CPU=512
  ECS_TASK_MEMORY=1024
  ECS_CPU_ARCHITECTURE=X86_64
  ECS_LOG_GROUP=/ecs/docvault
)
# Used for a required input that is unset, with --example only.
example_values=(
  DOCVAULT_IMAGE=123456789012.dkr.ecr.us-east-1.amazonaws.com/docvault:0.1.0
  ECS_TASK_ROLE_ARN=arn:aws:iam::123456789012:role/docvault-task
  ECS_EXECUTION_ROLE_ARN=arn:aws:iam::123456789012:role/docvault-task-execution
  DATABASE_URL_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:docvault/database-url-AbCdEf
  DOCVAULT_JWT_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:docvault/jwt-secret-AbCdEf
  DOCUMENT_VAULT_SQS_URL=https://sqs.us-east-1.amazonaws.com/123456789012/document-vault-entity-events
  AUDIT_SNS_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:document-vault-audit-events
  DOCUMENT_EVENTS_SQS_URL=https://sqs.us-east-1.amazonaws.com/123456789012/document-vault-document-events
  EPR_ENTITY_EVENTS_TOPIC_ARN=arn:aws:sns:us-east-1:116981763412:epr-document-events
)

declare -A value
for pair in "${docvault_defaults[@]}" "${deployment_defaults[@]}"; do
  name=${pair%%=*}
  value[$name]=${!name:-${pair#*=}}
done

example_value() {
  local pair
  for pair in "${example_values[@]}"; do
    [[ ${pair%%=*} == "$1" ]] && { echo "${pair#*=}"; return; }
  done
}
# require NAME WHY: the value of a required input, from the environment (or
# the example), or exit 2 naming it.
require() {
  local name=$1 why=$2
  value[$name]=${value[$name]:-${!name:-}}
  if [[ -z ${value[$name]} ]] && $example; then value[$name]=$(example_value "$name"); fi
  [[ -n ${value[$name]} ]] || input_error "$name is not set: $why"
}

# As docvault reads booleans: true, 1, yes or on, in any case.
is_true() { [[ ${1,,} == true || $1 == 1 || ${1,,} == yes || ${1,,} == on ]]; }

require DOCVAULT_IMAGE "the container image to run"
require ECS_TASK_ROLE_ARN "the task role (infra/iam/task-role-policy.json)"
require ECS_EXECUTION_ROLE_ARN "the execution role (pulls the image, writes logs, reads the DATABASE_URL secret)"
require DATABASE_URL_SECRET_ARN "the Secrets Manager secret or SSM parameter holding DATABASE_URL"
require DOCVAULT_JWT_SECRET_ARN "the Secrets Manager secret or SSM parameter holding DOCVAULT_JWT_SECRET (the HS256 key tokens are verified with)"
if is_true "${value[ENABLE_DOCUMENT_CONSUMER]}"; then
  require DOCUMENT_VAULT_SQS_URL "the entity-events queue (required while ENABLE_DOCUMENT_CONSUMER is true)"
fi
if is_true "${value[DOCVAULT_OUTBOX_RELAY_ENABLED]}"; then
  require AUDIT_SNS_TOPIC_ARN "the audit topic (required while DOCVAULT_OUTBOX_RELAY_ENABLED is true)"
  require DOCUMENT_EVENTS_SQS_URL "the document-events queue (required while DOCVAULT_OUTBOX_RELAY_ENABLED is true)"
fi
if [[ ${value[DOCVAULT_BLOB_STORE]} == s3 ]]; then
  require DOCVAULT_S3_BUCKET "the documents bucket (required while DOCVAULT_BLOB_STORE is s3)"
fi

# The container listens on 8080: the port mapping and the health check say so.
[[ ${value[DOCVAULT_HTTP_ADDR]} == *:8080 ]] ||
  input_error "DOCVAULT_HTTP_ADDR=\"${value[DOCVAULT_HTTP_ADDR]}\": the task definition maps and health-checks port 8080"

# The region: given, or the one of the queue URL (sqs.<region>.amazonaws.com).
region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
if [[ -z $region && ${value[DOCUMENT_VAULT_SQS_URL]} =~ ^https?://sqs\.([a-z0-9-]+)\.amazonaws\.com ]]; then
  region=${BASH_REMATCH[1]}
fi
if [[ -z $region && $example == true ]]; then region=us-east-1; fi
[[ -n $region ]] || input_error "AWS_REGION is not set and the queue URL names no region"
value[AWS_REGION]=$region

# The partition (aws, aws-cn, aws-us-gov) of the task role's ARN.
[[ ${value[ECS_TASK_ROLE_ARN]} =~ ^arn:([a-z-]+):iam::[0-9]{12}:role/ ]] ||
  input_error "ECS_TASK_ROLE_ARN=\"${value[ECS_TASK_ROLE_ARN]}\": expected arn:<partition>:iam::<account>:role/<name>"
partition=${BASH_REMATCH[1]}
[[ ${value[ECS_EXECUTION_ROLE_ARN]} =~ ^arn:[a-z-]+:iam::[0-9]{12}:role/ ]] ||
  input_error "ECS_EXECUTION_ROLE_ARN=\"${value[ECS_EXECUTION_ROLE_ARN]}\": expected arn:<partition>:iam::<account>:role/<name>"

# What the execution role must be allowed to read each secret with
# (<PREFIX>_ACTION, <PREFIX>_RESOURCE). A Secrets Manager valueFrom may name a
# JSON key (…:secret:name-AbCdEf:key::); the policy names the secret itself.
secret_access() {
  local input=$1 prefix=$2 secret=${value[$1]}
  if [[ $secret =~ ^(arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[^:]+) ]]; then
    value[${prefix}_ACTION]=secretsmanager:GetSecretValue
    value[${prefix}_RESOURCE]=${BASH_REMATCH[1]}
  elif [[ $secret =~ ^arn:[a-z-]+:ssm:[a-z0-9-]+:[0-9]{12}:parameter/.+ ]]; then
    value[${prefix}_ACTION]=ssm:GetParameters
    value[${prefix}_RESOURCE]=$secret
  else
    input_error "$input=\"$secret\": expected a Secrets Manager secret ARN or an SSM parameter ARN"
  fi
}
secret_access DATABASE_URL_SECRET_ARN DATABASE_URL_SECRET
secret_access DOCVAULT_JWT_SECRET_ARN DOCVAULT_JWT_SECRET

# The queue ARN of a queue URL (…/<account>/<name>), or "" for no URL.
queue_arn_of() {
  local name=$1 url=${value[$1]}
  [[ -z $url ]] && return 0
  [[ $url =~ ^https?://[^/]+/([0-9]{12})/([A-Za-z0-9_.-]+)/?$ ]] ||
    input_error "$name=\"$url\": expected https://sqs.<region>.amazonaws.com/<account>/<queue>"
  echo "arn:$partition:sqs:$region:${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
}
value[DOCUMENT_VAULT_SQS_ARN]=$(queue_arn_of DOCUMENT_VAULT_SQS_URL)
value[DOCUMENT_EVENTS_SQS_ARN]=$(queue_arn_of DOCUMENT_EVENTS_SQS_URL)
value[DOCUMENT_CONSUMER_DLQ_ARN]=$(queue_arn_of DOCUMENT_CONSUMER_DLQ_URL)
# The documents bucket, only when content lives in S3: least privilege on the prefix.
value[DOCVAULT_S3_OBJECTS_ARN]=
value[DOCVAULT_S3_BUCKET_ARN]=
if [[ ${value[DOCVAULT_BLOB_STORE]} == s3 ]]; then
  value[DOCVAULT_S3_OBJECTS_ARN]="arn:$partition:s3:::${value[DOCVAULT_S3_BUCKET]}/${value[DOCVAULT_S3_PREFIX]}*"
  value[DOCVAULT_S3_BUCKET_ARN]="arn:$partition:s3:::${value[DOCVAULT_S3_BUCKET]}"
fi
if [[ -n $policies_dir && -n ${value[DOCUMENT_VAULT_SQS_URL]} ]]; then
  require EPR_ENTITY_EVENTS_TOPIC_ARN "the EPR entity-events topic, for infra/iam/sqs-queue-policy.json"
fi
value[EPR_ENTITY_EVENTS_TOPIC_ARN]=${value[EPR_ENTITY_EVENTS_TOPIC_ARN]:-${EPR_ENTITY_EVENTS_TOPIC_ARN:-}}

# One sed substitution per placeholder. Values land inside JSON strings, so
# they are JSON-escaped, then escaped for sed's replacement text.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
script=$work/substitutions.sed
: >"$script"
for name in "${!value[@]}"; do
  v=${value[$name]}
  [[ $v != *[[:cntrl:]]* ]] || input_error "$name contains a control character"
  v=${v//\\/\\\\}
  v=${v//\"/\\\"}
  v=$(printf '%s' "$v" | sed -e 's/[\\&|]/\\&/g')
  # shellcheck disable=SC2016  # a literal ${NAME} in the sed pattern
  printf 's|\\${%s}|%s|g\n' "$name" "$v" >>"$script"
done

# render TEMPLATE OUT: substitute, then insist nothing is left and the JSON parses.
render() {
  local template=$1 out=$2 left
  sed -f "$script" "$template" >"$out.tmp"
  # shellcheck disable=SC2016  # a literal ${...} is what is searched for
  if left=$(grep -o '\${[A-Za-z_][A-Za-z0-9_]*}' "$out.tmp" | sort -u | tr '\n' ' ') && [[ -n $left ]]; then
    rm -f "$out.tmp"
    die "$template: placeholders left unreplaced: $left"
  fi
  python3 -m json.tool "$out.tmp" >/dev/null || { rm -f "$out.tmp"; die "$template: the rendered file is not valid JSON"; }
  mv "$out.tmp" "$out"
}

mkdir -p "$(dirname "$output")"
render "$root/infra/ecs-task-def.json.template" "$output"
echo "deploy: rendered $output" >&2

# Let docvault itself judge the values: the same check it runs at start-up.
if [[ -z $docvault_bin ]]; then
  for candidate in "$root/build/release/docvault" "$root/build/debug/docvault"; do
    [[ -x $candidate ]] && { docvault_bin=$candidate; break; }
  done
fi
if [[ -n $docvault_bin ]]; then
  [[ -x $docvault_bin ]] || input_error "docvault binary not found: $docvault_bin"
  mapfile -t task_env < <(python3 -c '
import json, sys
with open(sys.argv[1]) as f:
    task = json.load(f)
for entry in task["containerDefinitions"][0]["environment"]:
    print(entry["name"] + "=" + entry["value"])
' "$output")
  if ! check=$(env -i "${task_env[@]}" "$docvault_bin" config check 2>&1 >/dev/null); then
    rm -f "$output"
    echo "deploy: docvault rejects the task definition's environment: $check" >&2
    exit 2
  fi
  echo "deploy: docvault accepts the environment ($docvault_bin config check)" >&2
else
  echo "deploy: no docvault binary to check the values with (build one, or pass --docvault)" >&2
fi

if [[ -n $policies_dir ]]; then
  mkdir -p "$policies_dir"
  for policy in "$root"/infra/iam/*.json; do
    out=$policies_dir/$(basename "$policy")
    render "$policy" "$out"
    # A statement whose resource is not configured (no DLQ, relay or consumer
    # disabled) is dropped rather than granted on "".
    if python3 - "$out" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    policy = json.load(f)
policy["Statement"] = [s for s in policy["Statement"] if s.get("Resource") not in ("", [])]
if not policy["Statement"]:
    sys.exit(3)
with open(path, "w") as f:
    json.dump(policy, f, indent=2)
    f.write("\n")
PY
    then
      echo "deploy: rendered $out" >&2
    else
      [[ $? == 3 ]] || die "$out: could not post-process"
      rm -f "$out"
      echo "deploy: $(basename "$policy"): nothing to grant with this configuration, not written" >&2
    fi
  done
fi

if [[ -n $policies_dir ]]; then
  # Only the handled actions reach the queue: others cost a receive and a
  # delete each (docvault would acknowledge and count them).
  python3 - "${value[DOCUMENT_CONSUMER_ACTIONS]}" "$policies_dir/subscription-attributes.json" <<'PY' ||
import json, sys
actions = [a.strip() for a in sys.argv[1].split(",") if a.strip()]
attributes = {"FilterPolicyScope": "MessageBody", "FilterPolicy": json.dumps({"action": actions})}
with open(sys.argv[2], "w") as f:
    json.dump(attributes, f, indent=2)
    f.write("\n")
PY
    die "subscription-attributes.json: could not write"
  echo "deploy: rendered $policies_dir/subscription-attributes.json" >&2
fi

if $register; then
  command -v aws >/dev/null || die "--register needs the AWS CLI (aws) on PATH"
  arn=$(aws ecs register-task-definition --region "$region" --cli-input-json "file://$(realpath "$output")" \
    --query taskDefinition.taskDefinitionArn --output text)
  echo "deploy: registered $arn" >&2
  if [[ -n ${ECS_CLUSTER:-} && -n ${ECS_SERVICE:-} ]]; then
    aws ecs update-service --region "$region" --cluster "$ECS_CLUSTER" --service "$ECS_SERVICE" \
      --task-definition "$arn" --query service.serviceArn --output text >/dev/null
    echo "deploy: $ECS_SERVICE on $ECS_CLUSTER is rolling out $arn" >&2
    if $wait_stable; then
      aws ecs wait services-stable --region "$region" --cluster "$ECS_CLUSTER" --services "$ECS_SERVICE"
      echo "deploy: $ECS_SERVICE is stable" >&2
    fi
  else
    echo "deploy: ECS_CLUSTER and ECS_SERVICE not both set: no service updated" >&2
  fi
fi
