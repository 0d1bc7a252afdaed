#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# ep-sign.sh - the operator's Ed25519 signing key, and the signatures the runtime checks
# before it loads a handler plugin or a handler file such as a model (signing group,
# docs/operations.md "Signing").
#
#   scripts/ep-sign.sh keygen KEY [PUB]    a new key pair: KEY (private, mode 0600, keep it
#                                          off the nodes) and PUB (public, PEM; default:
#                                          KEY less .key, plus .pub), for signing.public_key
#   scripts/ep-sign.sh sign KEY FILE...    write FILE.sig, the 64-byte signature, for each
#   scripts/ep-sign.sh verify PUB FILE...  check each FILE against its FILE.sig, as the
#                                          runtime does; exit 1 if any does not verify
#
# Each step is one openssl command (OpenSSL 3), printed with EP_SIGN_VERBOSE=1:
#   openssl genpkey -algorithm ED25519 -out KEY
#   openssl pkey -in KEY -pubout -out PUB
#   openssl pkeyutl -sign -rawin -inkey KEY -in FILE -out FILE.sig
#   openssl pkeyutl -verify -rawin -pubin -inkey PUB -in FILE -sigfile FILE.sig
# A signature is plain RFC 8032 Ed25519 over the whole file, 64 raw bytes: any Ed25519
# signer that makes those bytes (an HSM, a signing service, libsodium's
# crypto_sign_detached) serves as well.
set -euo pipefail

usage() {
	sed -n '/^#   scripts/,/^# Each/{/^# Each/d;s/^# \{0,1\}//;p}' "$0"
	exit "${1:-2}"
}
die() { echo "ep-sign.sh: $*" >&2; exit 1; }
run() { [[ ${EP_SIGN_VERBOSE:-0} = 1 ]] && echo "+ $*" >&2; "$@"; }

command -v openssl >/dev/null || die "needs openssl (apt-get install openssl)"
[[ $# -ge 1 ]] || usage
cmd=$1
shift
case $cmd in
keygen)
	[[ $# -ge 1 && $# -le 2 ]] || usage
	key=$1 pub=${2:-${1%.key}.pub}
	[[ $pub != "$key" ]] || die "name the public key file: keygen KEY PUB"
	[[ ! -e $key ]] || die "$key exists; not overwritten (a node trusting its public key" \
		"would refuse everything signed by a new one)"
	(umask 077 && run openssl genpkey -algorithm ED25519 -out "$key")
	run openssl pkey -in "$key" -pubout -out "$pub"
	chmod 0644 "$pub"
	echo "private key: $key (keep it off the nodes); public key: $pub (signing.public_key)"
	;;
sign)
	[[ $# -ge 2 ]] || usage
	key=$1
	shift
	[[ -r $key ]] || die "$key: cannot read the private key"
	for f in "$@"; do
		[[ -f $f ]] || die "$f: not a file"
		# Written beside and renamed: a runtime starting meanwhile sees the old
		# signature or the new one, never half of one.
		run openssl pkeyutl -sign -rawin -inkey "$key" -in "$f" -out "$f.sig.tmp$$" ||
			{ rm -f "$f.sig.tmp$$"; die "$f: signing failed"; }
		[[ $(stat -c %s "$f.sig.tmp$$") -eq 64 ]] ||
			{ rm -f "$f.sig.tmp$$"; die "$key: not an Ed25519 key (the signature is not 64 bytes)"; }
		chmod 0644 "$f.sig.tmp$$"
		mv -f "$f.sig.tmp$$" "$f.sig"
		echo "signed: $f.sig"
	done
	;;
verify)
	[[ $# -ge 2 ]] || usage
	pub=$1
	shift
	bad=0
	for f in "$@"; do
		if [[ ! -e $f.sig ]]; then
			echo "$f: missing signature ($f.sig)"
			bad=1
		elif run openssl pkeyutl -verify -rawin -pubin -inkey "$pub" -in "$f" \
			-sigfile "$f.sig" >/dev/null 2>&1; then
			echo "$f: good signature"
		else
			echo "$f: bad signature"
			bad=1
		fi
	done
	exit $bad
	;;
-h | --help | help) usage 0 ;;
*) usage ;;
esac
