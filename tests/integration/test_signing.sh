#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Signed plugins and models (docs/security.md): the runtime starts only if every plugin and
# handler file it is given carries FILE.sig made by the key of signing.public_key. An
# unsigned plugin, a plugin or a model changed after it was signed, a model signed by
# another key, and any of them with no public key configured are each refused at start,
# with a message that names the file and the reason; the same files correctly signed load
# and answer tasks. A model stored encrypted (edgeplane encrypt, AES-256-GCM) is signed as
# stored and decrypted in memory: it answers as the plain one does, and with another key,
# or no key configured, it is refused. The keys are made for this run (scripts/ep-sign.sh,
# /dev/urandom) and removed at exit.
source "$(dirname "$0")/../lib/lib.sh"
need_root "network namespaces"

SIGN=$EP_ROOT/scripts/ep-sign.sh
PLUGIN=$(ep_plugin libepcount.so) || { echo "Bail out! cannot install the test plugin"; exit 1; }
if ! ep_setup_pair; then
	not_ok "set up namespaces and veth"
	tap_done
	exit 1
fi

# The operator's model and a task for it: 4 features in, 3 logits out (8 + 4 * 3 bytes).
"$TOOLS/mkmodel" --dims 4,16,3 --seed 7 --out "$EP_TMP/model.epm" >/dev/null &&
	"$TOOLS/mkmodel" --features 4 --seed 8 --out "$EP_TMP/x.bin" >/dev/null &&
	ep_sign "$EP_TMP/model.epm" || { not_ok "make and sign a model"; tap_done; exit 1; }

# Each attack: a copy of a signed file, then the change.
D=$EP_PLUGIN_DIR
install -m 0644 "$PLUGIN" "$D/unsigned.so"
install -m 0644 "$PLUGIN" "$D/tampered.so" && cp "$PLUGIN.sig" "$D/tampered.so.sig" &&
	printf '\0' >>"$D/tampered.so"	# one byte more: still a loadable ELF
cp "$EP_TMP/model.epm" "$EP_TMP/tampered.epm" && cp "$EP_TMP/model.epm.sig" "$EP_TMP/tampered.epm.sig"
# flip FILE OFFSET: flip the lowest bit of one byte.
flip() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	printf "\\$(printf %03o $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
# One weight's lowest bit: a model that still loads, and answers a little differently.
flip "$EP_TMP/tampered.epm" 40
mkdir -p "$EP_TMP/other" && "$SIGN" keygen "$EP_TMP/other/other.key" >/dev/null &&
	cp "$EP_TMP/model.epm" "$EP_TMP/other.epm" &&
	"$SIGN" sign "$EP_TMP/other/other.key" "$EP_TMP/other.epm" >/dev/null ||
	{ not_ok "set up the attacks' files"; tap_done; exit 1; }

fails() { ! "$@" >/dev/null 2>&1; }

# conf NAME PLUGIN MODEL [SIGNING [MORE]]: a config loading PLUGIN and MODEL; SIGNING is
# the signing group (default: this run's public key), MORE more settings.
conf() {
	cat >"$EP_TMP/$1.conf" <<CONF
backend = "udp";
bind = "$ADDR_B";
$EP_AUTH_OFF
${4-$EP_SIGNING}
${5-}
handlers = ( { name = "echo"; }, { plugin = "$2"; name = "count"; type = 900; },
	     { name = "infer"; files = [ "$3" ]; } );
CONF
	echo "$EP_TMP/$1.conf"
}

# answers: a task of the plugin and one of the model are answered.
answers() {
	in_a "$BIN/edgeload" run --to $ADDR_B --type 900 --size 100 --out "$EP_TMP/count.out" \
		--attempts 3 >/dev/null 2>&1 && [[ -s $EP_TMP/count.out ]] &&
	in_a "$BIN/edgeload" run --to $ADDR_B --type 50 --in "$EP_TMP/x.bin" \
		--out "$EP_TMP/infer.out" --attempts 3 >/dev/null 2>&1 &&
	[[ $(stat -c %s "$EP_TMP/infer.out") -eq 20 ]]
}

# refused WHAT CONF MESSAGE: the runtime with CONF does not start, and logs MESSAGE.
refused() {
	local log=$EP_TMP/$(basename "$2" .conf).log
	if ep_start_runtime "$log" -c "$2"; then
		not_ok "$1: refused at start"
		if answers; then diag "it started, and its plugin and model answered tasks"
		else diag "it started"; fi
		ep_stop_runtime
	elif grep -qF -- "$3" "$log"; then
		ok "$1: refused at start ('$3')"
	else
		not_ok "$1: refused at start, saying '$3'"
		diag "$(tail -3 "$log")"
	fi
}

C=$(conf nokey "$PLUGIN" "$EP_TMP/model.epm" "")
refused "a signed plugin with no signing.public_key configured" "$C" \
	"plugin $PLUGIN: no public key configured"
if out=$("$BIN/edgeplane" -c "$C" --check-config 2>&1); then
	not_ok "--check-config refuses a plugin with no public key configured"
else
	check "--check-config refuses a plugin with no public key configured, and says how to fix it" \
		grep -qF "scripts/ep-sign.sh keygen" <<<"$out"
fi
refused "an unsigned plugin" "$(conf unsigned "$D/unsigned.so" "$EP_TMP/model.epm")" \
	"plugin $D/unsigned.so: missing signature"
refused "a plugin changed after it was signed" \
	"$(conf tampered "$D/tampered.so" "$EP_TMP/model.epm")" \
	"plugin $D/tampered.so: bad signature"
refused "a model changed after it was signed" \
	"$(conf tampered-model "$PLUGIN" "$EP_TMP/tampered.epm")" \
	"handler file $EP_TMP/tampered.epm: bad signature"
refused "a model signed by another key" "$(conf other "$PLUGIN" "$EP_TMP/other.epm")" \
	"handler file $EP_TMP/other.epm: bad signature"

# The same files, correctly signed.
on_exit ep_stop_runtime
C=$(conf good "$PLUGIN" "$EP_TMP/model.epm")
check "signed plugin and model: --check-config" quiet "$BIN/edgeplane" -c "$C" --check-config
if ep_start_runtime "$EP_TMP/good.log" -c "$C"; then
	ok "a signed plugin and a signed model: the runtime starts"
	check "the plugin and the model answer tasks" answers
	cp "$EP_TMP/infer.out" "$EP_TMP/infer-plain.out"
	ep_stop_runtime
else
	not_ok "a signed plugin and a signed model: the runtime starts"
	diag "$(tail -3 "$EP_TMP/good.log")"
fi
check "ep-sign.sh verify agrees with the runtime" \
	quiet "$SIGN" verify "$EP_SIGN_PUB" "$PLUGIN" "$EP_TMP/model.epm"
check "ep-sign.sh verify refuses what the runtime refused" \
	fails "$SIGN" verify "$EP_SIGN_PUB" "$D/tampered.so"

# The model stored encrypted, then signed as stored; the key file as a secret's, 0600.
head -c 32 /dev/urandom >"$EP_TMP/model.key" && chmod 600 "$EP_TMP/model.key" &&
	head -c 32 /dev/urandom >"$EP_TMP/other.key" && chmod 600 "$EP_TMP/other.key"
check "edgeplane encrypt writes the model encrypted" \
	quiet "$BIN/edgeplane" encrypt --key "$EP_TMP/model.key" "$EP_TMP/model.epm" "$EP_TMP/model.enc"
# plain_in ENC MODEL: ENC holds MODEL's magic, or, where MODEL's bytes would be, those bytes.
plain_in() {
	grep -qaF EPMD "$1" ||
		cmp -s <(tail -c +21 "$1" | head -c "$(stat -c %s "$2")") "$2"
}
check "... with none of the model's plain bytes (its magic, its weights in place)" \
	fails plain_in "$EP_TMP/model.enc" "$EP_TMP/model.epm"
ep_sign "$EP_TMP/model.enc"
C=$(conf enc "$PLUGIN" "$EP_TMP/model.enc" "$EP_SIGNING" \
	"file_encryption: { key_file = \"$EP_TMP/model.key\"; };")
if ep_start_runtime "$EP_TMP/enc.log" -c "$C"; then
	check "an encrypted, signed model loads and answers" answers
	check "... the same logits as the plain model" cmp -s "$EP_TMP/infer.out" "$EP_TMP/infer-plain.out"
	ep_stop_runtime
else
	not_ok "an encrypted, signed model: the runtime starts"
	diag "$(tail -3 "$EP_TMP/enc.log")"
fi
refused "an encrypted model, with another key configured" \
	"$(conf enc-other "$PLUGIN" "$EP_TMP/model.enc" "$EP_SIGNING" \
	   "file_encryption: { key_file = \"$EP_TMP/other.key\"; };")" \
	"handler file $EP_TMP/model.enc: does not decrypt with file_encryption.key_file"
chmod 644 "$EP_TMP/other.key"
out=$("$BIN/edgeplane" -c "$EP_TMP/enc-other.conf" --check-config 2>&1)
expect_eq "--check-config refuses a key file others may read, saying why" \
	"$?:$(grep -c "file_encryption.key_file $EP_TMP/other.key: mode 0644" <<<"$out")" "2:1"
refused "an encrypted model, with no key configured" \
	"$(conf enc-nokey "$PLUGIN" "$EP_TMP/model.enc")" \
	"handler file $EP_TMP/model.enc: encrypted, and no file_encryption.key_file"

# signing.mode = "off-unsafe", asked for by name: loads what is not signed, and says so.
C=$(conf off "$D/unsigned.so" "$EP_TMP/tampered.epm" 'signing: { mode = "off-unsafe"; };')
if ep_start_runtime "$EP_TMP/off.log" -c "$C"; then
	check "signing.mode = \"off-unsafe\": an unsigned plugin and a changed model load" answers
	check "... and the runtime warns that nothing is checked" \
		grep -q 'signing.mode = "off-unsafe"' "$EP_TMP/off.log"
	ep_stop_runtime
else
	not_ok "signing.mode = \"off-unsafe\": the runtime starts"
	diag "$(tail -3 "$EP_TMP/off.log")"
fi
tap_done
