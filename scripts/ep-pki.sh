#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A small certificate authority for edgeplane's enrollment (docs/operations.md, "Enrollment
# and PKI"), in plain `openssl` commands: read them, or use a PKI of your own that issues
# the same subjects.
#
#   ep-pki.sh ca DIR [--days N]            a CA in DIR: ca.key (keep it offline), ca.crt,
#                                          the `openssl ca` database, and an empty crl.pem
#   ep-pki.sh issue DIR NAME ROLE TENANT [--days N] [--addr IP]... [--dns NAME]...
#                   [--start YYYYMMDDHHMMSSZ] [--end YYYYMMDDHHMMSSZ] [--force]
#                                          DIR/NAME.key and DIR/NAME.crt, subject
#                                          /O=TENANT/OU=ROLE/CN=NAME, ECDSA P-256. ROLE
#                                          "controller": a server certificate (with
#                                          subjectAltName IP:... for each --addr, DNS:...
#                                          for each --dns); any other role: a client
#                                          certificate ("node" for an edge runtime, a
#                                          policy role for a device)
#   ep-pki.sh revoke DIR NAME              revoke DIR/NAME.crt in the CA's database
#   ep-pki.sh crl DIR [--days N]           write DIR/crl.pem (valid N days, 30): the
#                                          controller's enroll.crl; reissue it before then
#
# -v (first argument) prints each openssl command. Names and roles: 1..63 and 1..31
# characters of [A-Za-z0-9_.@:-]; TENANT: 0..4294967295.
set -euo pipefail

VERBOSE=0
if [[ ${1:-} == -v ]]; then
	VERBOSE=1
	shift
fi

die() { echo "ep-pki.sh: $*" >&2; exit 1; }
usage() { sed -n '3,23s/^# \{0,1\}//p' "$0" >&2; exit 2; }
run() {
	((VERBOSE)) && printf '+ %s\n' "$*" >&2
	"$@"
}
# A name that cannot change the subject it is put in (no '/', '+', '=', '\', spaces).
check_name() {
	[[ $2 =~ ^[A-Za-z0-9_.@:-]+$ && ${#2} -le $3 ]] ||
		die "$1 '$2': 1..$3 characters of [A-Za-z0-9_.@:-]"
}
check_days() { [[ $1 =~ ^[0-9]{1,5}$ && $1 -ge 1 ]] || die "--days '$1': a number of days"; }
check_date() {
	[[ $1 =~ ^[0-9]{12}([0-9]{2})?Z$ ]] || die "'$1': a date YYYYMMDDHHMMSSZ (or YYMMDDHHMMSSZ)"
}
need_ca() {
	[[ -f $1/ca.crt && -f $1/ca.key && -f $1/openssl.cnf ]] || die "$1: no CA here (ep-pki.sh ca $1)"
}

# dir_days DEFAULT-DAYS DIR [--days N]: the arguments of `ca` and `crl`, into DIR and DAYS.
dir_days() {
	DAYS=$1 DIR=${2:-}
	[[ -n $DIR ]] || usage
	shift 2
	while (($#)); do
		case $1 in
		--days) check_days "${2:-}"; DAYS=$2; shift 2 ;;
		*) usage ;;
		esac
	done
}

cmd_ca() {
	local dir days
	dir_days 3650 "$@"
	dir=$DIR days=$DAYS
	[[ -e $dir/ca.key ]] && die "$dir already holds a CA"
	mkdir -p "$dir"
	chmod 0700 "$dir"
	dir=$(cd "$dir" && pwd)
	mkdir -p "$dir/newcerts"
	: >"$dir/index.txt"
	echo 1000 >"$dir/serial"
	echo 1000 >"$dir/crlnumber"
	# The database of `openssl ca`: who was issued what, and what is revoked. Subjects as
	# requested (O, OU, CN), all three required; a name may be issued again (renewal).
	cat >"$dir/openssl.cnf" <<EOF
[ ca ]
default_ca = edgeplane_ca

[ edgeplane_ca ]
dir = $dir
database = \$dir/index.txt
new_certs_dir = \$dir/newcerts
certificate = \$dir/ca.crt
private_key = \$dir/ca.key
serial = \$dir/serial
crlnumber = \$dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 30
policy = edgeplane_subject
unique_subject = no
preserve = yes
email_in_dn = no
copy_extensions = none

[ edgeplane_subject ]
organizationName = supplied
organizationalUnitName = supplied
commonName = supplied
EOF
	(umask 077 && run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$dir/ca.key")
	run openssl req -x509 -new -key "$dir/ca.key" -sha256 -days "$days" \
		-subj "/O=edgeplane/CN=edgeplane CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" -out "$dir/ca.crt"
	cmd_crl "$dir"
	echo "CA in $dir: ca.crt (give it to every party), ca.key (keep it offline)"
}

cmd_issue() {
	local dir=${1:-} name=${2:-} role=${3:-} tenant=${4:-} days=365 force=0
	local start="" end="" san=()
	[[ -n $dir && -n $name && -n $role && -n $tenant ]] || usage
	shift 4
	while (($#)); do
		case $1 in
		--days) check_days "${2:-}"; days=$2; shift 2 ;;
		--addr)
			[[ ${2:-} =~ ^[0-9a-fA-F.:]+$ ]] || die "--addr '${2:-}': an IPv4 or IPv6 address"
			san+=("IP:$2"); shift 2 ;;
		--dns) check_name "--dns" "${2:-}" 253; san+=("DNS:$2"); shift 2 ;;
		--start) check_date "${2:-}"; start=$2; shift 2 ;;
		--end) check_date "${2:-}"; end=$2; shift 2 ;;
		--force) force=1; shift ;;
		*) usage ;;
		esac
	done
	need_ca "$dir"
	check_name name "$name" 63
	check_name role "$role" 31
	[[ $tenant =~ ^[0-9]{1,10}$ && $tenant -le 4294967295 ]] ||
		die "tenant '$tenant': a number 0..4294967295"
	tenant=$((10#$tenant))
	[[ -e $dir/$name.crt && $force -eq 0 ]] &&
		die "$dir/$name.crt exists (--force issues another; the old one stays valid until revoked)"
	[[ ${#san[@]} -gt 0 && $role != controller ]] && die "--addr and --dns are for a controller"

	local ext tmp
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' RETURN
	ext=$tmp/ext.cnf
	{
		echo "[ ext ]"
		echo "basicConstraints = critical,CA:FALSE"
		echo "keyUsage = critical,digitalSignature"
		echo "subjectKeyIdentifier = hash"
		echo "authorityKeyIdentifier = keyid"
		if [[ $role == controller ]]; then
			echo "extendedKeyUsage = serverAuth"
			if ((${#san[@]})); then
				(IFS=,; echo "subjectAltName = ${san[*]}")
			fi
		else
			echo "extendedKeyUsage = clientAuth"
		fi
	} >"$ext"
	(umask 077 && run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$tmp/key.pem")
	run openssl req -new -key "$tmp/key.pem" -subj "/O=$tenant/OU=$role/CN=$name" \
		-out "$tmp/req.pem"
	local dates=(-days "$days")
	[[ -n $start || -n $end ]] && dates=()
	[[ -n $start ]] && dates+=(-startdate "$start")
	[[ -n $end ]] && dates+=(-enddate "$end")
	[[ -n $start && -z $end ]] && dates+=(-days "$days")
	run openssl ca -batch -notext -config "$dir/openssl.cnf" "${dates[@]}" \
		-extfile "$ext" -extensions ext -in "$tmp/req.pem" -out "$tmp/crt.pem" 2>"$tmp/log" ||
		{ cat "$tmp/log" >&2; die "openssl ca refused to issue $name"; }
	install -m 0600 "$tmp/key.pem" "$dir/$name.key"
	install -m 0644 "$tmp/crt.pem" "$dir/$name.crt"
	echo "$dir/$name.crt: /O=$tenant/OU=$role/CN=$name, serial $(openssl x509 -noout -serial -in "$dir/$name.crt" | cut -d= -f2)"
}

cmd_revoke() {
	local dir=${1:-} name=${2:-}
	[[ -n $dir && -n $name && $# -eq 2 ]] || usage
	need_ca "$dir"
	check_name name "$name" 63
	[[ -f $dir/$name.crt ]] || die "$dir/$name.crt: no such certificate"
	run openssl ca -config "$dir/openssl.cnf" -revoke "$dir/$name.crt" 2>"$dir/.revoke.log" ||
		{ cat "$dir/.revoke.log" >&2; rm -f "$dir/.revoke.log"; die "openssl ca refused"; }
	rm -f "$dir/.revoke.log"
	echo "$name revoked; 'ep-pki.sh crl $dir' writes the CRL the controller reads"
}

cmd_crl() {
	local dir days
	dir_days 30 "$@"
	dir=$DIR days=$DAYS
	need_ca "$dir"
	# Written beside and renamed: a controller that reloads it never reads half a file.
	run openssl ca -config "$dir/openssl.cnf" -gencrl -crldays "$days" -out "$dir/crl.pem.new" \
		2>"$dir/.crl.log" || { cat "$dir/.crl.log" >&2; rm -f "$dir/.crl.log"; die "openssl ca -gencrl failed"; }
	rm -f "$dir/.crl.log"
	mv -f "$dir/crl.pem.new" "$dir/crl.pem"
}

case ${1:-} in
ca) shift; cmd_ca "$@" ;;
issue) shift; cmd_issue "$@" ;;
revoke) shift; cmd_revoke "$@" ;;
crl) shift; cmd_crl "$@" ;;
-h | --help | help) sed -n '3,23s/^# \{0,1\}//p' "$0"; exit 0 ;;
*) usage ;;
esac
