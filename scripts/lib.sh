# shellcheck shell=bash
# Shell functions shared by scripts/test and scripts/demo.
#
# Source this file from bash. It sets no shell options and runs nothing on its
# own. Functions start with "fc_" and stop the calling script through fc_die
# when a requirement is missing.

FC_ADDON=fast_collections

# Print an error message to stderr and exit with status 1.
fc_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Print the heading of a step.
fc_step() {
    printf '\n==> %s\n' "$*"
}

# Stop unless python3 imports Odoo 18.0.
fc_check_odoo() {
    local import_error
    if ! import_error=$(python3 -c "import odoo" 2>&1); then
        printf '%s\n' "$import_error" | tail -n 1 >&2
        fc_die "Odoo 18.0 is not importable by python3: install Odoo 18.0" \
            "and its requirements into this Python, then run again"
    fi

    local major version
    major=$(python3 -c "import odoo.release; print(odoo.release.version_info[0])")
    if [[ "$major" != 18 ]]; then
        version=$(python3 -c "import odoo.release; print(odoo.release.version)")
        fc_die "python3 imports Odoo $version, but $FC_ADDON needs Odoo 18.0:" \
            "install Odoo 18.0 into this Python or put it first on PYTHONPATH"
    fi
}

# Print the addons path: the directories of the installed Odoo's own addons,
# then the repository root given as $1.
fc_addons_path() {
    local repo_root=$1
    local odoo_paths
    odoo_paths=$(python3 -c "import odoo.addons; print(','.join(odoo.addons.__path__))")
    printf '%s,%s\n' "$odoo_paths" "$repo_root"
}

# Start the local PostgreSQL cluster when it does not accept connections.
# Uses the Debian cluster tools and the newest version found under
# /etc/postgresql. PGHOST and PGPORT, when set, select the server to check.
fc_start_postgresql() {
    local tool
    for tool in pg_isready psql dropdb; do
        if ! command -v "$tool" >/dev/null; then
            fc_die "the PostgreSQL client program '$tool' was not found:" \
                "install the PostgreSQL client tools, then run again"
        fi
    done

    if pg_isready --quiet; then
        return 0
    fi

    if ! command -v pg_ctlcluster >/dev/null; then
        fc_die "PostgreSQL does not accept connections and pg_ctlcluster was" \
            "not found: start PostgreSQL, then run again"
    fi

    local version
    version=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -type d -name main \
        2>/dev/null | awk -F/ '{ print $(NF - 1) }' | sort -V | tail -n 1)
    if [[ -z "$version" ]]; then
        fc_die "PostgreSQL does not accept connections and no cluster" \
            "was found in /etc/postgresql/<version>/main: create a cluster" \
            "or start PostgreSQL, then run again"
    fi

    echo "Starting PostgreSQL $version/main"
    if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
        fc_die "pg_ctlcluster failed to start PostgreSQL $version/main"
    fi

    local waited=0
    until pg_isready --quiet; do
        if ((waited >= 30)); then
            fc_die "PostgreSQL $version/main was started but did not accept" \
                "connections within 30 s"
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

# Set FC_DB_USER to the PostgreSQL role Odoo connects as: PGUSER, or else the
# current OS user. Stops when that role cannot connect or create databases.
fc_resolve_db_user() {
    FC_DB_USER=${PGUSER:-$(id -un)}

    # Odoo 18.0 exits at start-up when its database user is "postgres".
    if [[ "$FC_DB_USER" == postgres ]]; then
        fc_die "Odoo 18.0 rejects 'postgres' as its database role: run as" \
            "another OS user, or set PGUSER to a role that may create databases"
    fi

    local can_create
    if ! can_create=$(psql -X -q -A -t -U "$FC_DB_USER" -d postgres \
        -c "SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user"); then
        fc_die "PostgreSQL role '$FC_DB_USER' failed to connect, as psql shows" \
            "above: when the role is missing, create it with" \
            "'sudo -u postgres createuser --createdb $FC_DB_USER', then run again"
    fi
    if [[ "$can_create" != t ]]; then
        fc_die "PostgreSQL role '$FC_DB_USER' may not create databases: as a" \
            "superuser, run ALTER ROLE $FC_DB_USER CREATEDB, then run again"
    fi
}

# Succeed when database $1 exists.
fc_database_exists() {
    local name=$1
    local found
    # psql substitutes :'name' in standard input, not in a -c command.
    found=$(psql -X -q -A -t -U "$FC_DB_USER" -d postgres -v name="$name" \
        <<<"SELECT 1 FROM pg_database WHERE datname = :'name'")
    [[ "$found" == 1 ]]
}

# Drop database $1 if it exists, closing its open connections first.
fc_drop_database() {
    local name=$1
    # The option hides the notice dropdb prints for a database that is missing.
    PGOPTIONS="-c client_min_messages=warning" \
        dropdb --if-exists --force -U "$FC_DB_USER" -- "$name"
}

# Print the state of the addon in database $1: "installed" after a successful
# install, nothing when the database does not know the addon.
fc_addon_state() {
    local name=$1
    psql -X -q -A -t -U "$FC_DB_USER" -d "$name" -v addon="$FC_ADDON" \
        <<<"SELECT state FROM ir_module_module WHERE name = :'addon'"
}

# Print a free TCP port on 127.0.0.1. Another process may take it before Odoo
# binds it, which is unlikely in the seconds in between.
fc_free_port() {
    python3 -c "
import socket
with socket.socket() as sock:
    sock.bind(('127.0.0.1', 0))
    print(sock.getsockname()[1])
"
}

# Succeed when something listens on 127.0.0.1 port $1.
fc_port_in_use() {
    local port=$1
    python3 -c "
import socket, sys
with socket.socket() as sock:
    sys.exit(0 if sock.connect_ex(('127.0.0.1', int(sys.argv[1]))) == 0 else 1)
" "$port"
}

# Log analysis. Odoo writes one record per line as
#   DATE TIME PID LEVEL DBNAME LOGGER: MESSAGE
# and tracebacks follow their record on lines of their own.
FC_RECORD_START='^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:,]+ [0-9]+ '

# Lines that summarise the test run. Odoo logs them at ERROR level when a test
# failed, and the failures are reported from the counts instead.
FC_SUMMARY_LINES='odoo\.tests\.result: ([0-9]+ failed, [0-9]+ error\(s\) of [0-9]+ tests when loading database|Test suite halted)'
FC_SUMMARY_LINES+='|odoo\.modules\.loading: (Module [a-z0-9_]+: [0-9]+ failures, [0-9]+ errors of [0-9]+ tests|At least one test failed when loading the modules)'

# Print the first line of each ERROR or CRITICAL record in log $1, leaving
# out the test summary lines.
fc_log_error_records() {
    local log=$1
    grep -E "${FC_RECORD_START}(ERROR|CRITICAL) " "$log" \
        | grep -v -E "$FC_SUMMARY_LINES" || true
}

# Print the record line above each Python traceback in log $1.
fc_log_tracebacks() {
    local log=$1
    awk -v record_start="$FC_RECORD_START" '
        $0 ~ record_start { record = $0 }
        /^Traceback \(most recent call last\):/ { print record }
    ' "$log"
}

# Print lines of log $1 that show a connection attempt to a host other than
# the loopback interface.
fc_log_outbound_connections() {
    local log=$1
    local pattern='Connection refused|Name or service not known'
    pattern+='|Temporary failure in name resolution|Network is unreachable'
    pattern+='|Failed to establish a new connection|Max retries exceeded'
    pattern+='|NewConnectionError|urllib3|requests\.exceptions'
    # Odoo 18.0's IAP client (iap/tools/iap_tools.py) logs each request it
    # sends to Odoo's paid services as "iap jsonrpc URL".
    pattern+='|iap jsonrpc'
    grep -E -i "$pattern" "$log" \
        | grep -v -E "127\.0\.0\.1|localhost|\[::1\]" || true
}
