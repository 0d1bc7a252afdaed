#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The frame codec through the runtime (docs/protocol.md 3.9): edgeload sends every real
# photograph of build/data/images as a frame to the blob detector raw, lossless and with
# k = 2 (the node's blobs handler has max_error = 2), and the counts and levels must be the
# same, the frame-coded ones smaller on the wire; sobel of a lossless frame is the sobel of
# the raw one, byte for byte; k = 2 to a type without max_error gets invalid_input; a
# payload flagged EP_F_FRAME that is none gets decompress_failed; the node's PONG says it
# decodes frames. The udp backend: this is about the task path, not the packet path.
source "$(dirname "$0")/../lib/lib.sh"
need_root "runtime on veth"

IMAGES=$BUILD/data/images
[[ -s $IMAGES/camera.png ]] || { echo "Bail out! no test images in $IMAGES"; exit 1; }
if ! ep_setup_pair; then
	not_ok "set up namespaces and veth"
	tap_done
	exit 1
fi
cat >"$EP_TMP/rt.conf" <<CONF
limits: { max_task_len = 8388608; max_result_len = 8388608; };
handlers = ( { name = "blobs"; max_error = 2; }, { name = "sobel"; }, { name = "threshold"; } );
$EP_AUTH_OFF
CONF
printf '%s\n' 'handlers = ( { name = "blobs"; max_error = 16; } );' "$EP_AUTH_OFF" \
	>"$EP_TMP/bad.conf"
out=$("$BIN/edgeplane" -b udp -c "$EP_TMP/bad.conf" --check-config 2>&1)
expect_eq "max_error = 16 is refused (status 2, names the setting)" \
	"$?:$(grep -c max_error <<<"$out")" "2:1"
ep_runtime_or_bail "the runtime starts with blobs at max_error = 2" \
	"$EP_TMP/rt.log" -b udp -c "$EP_TMP/rt.conf"
ok "the runtime starts with blobs at max_error = 2"

# run TYPE IMAGE [OPTIONS...]: one edgeload run; its result (the blob list) in
# $EP_TMP/out, "PAYLOAD SENT" bytes on stdout (one send's: a frame coded smaller than a
# third of the raw one is sent twice, the second time with the address-validation token
# its RETRY gave, docs/protocol.md 3.7), or FAILED and the reason.
run() {
	in_a "$BIN/edgeload" run --to $ADDR_B --type "$1" --in "$2" "${@:3}" >"$EP_TMP/out" \
		2>"$EP_TMP/run.err" || { echo "FAILED: $(tail -1 "$EP_TMP/run.err")"; return; }
	sed -nE 's/.*: ([0-9]+) -> ([0-9]+) bytes a send.*/\1 \2/p' "$EP_TMP/run.err"
}

lim=$(in_a "$BIN/edgeload" limits --to $ADDR_B --json 2>/dev/null)
expect_eq "the node's PONG says it decodes frame-coded payloads" "$(jq -r .frames <<<"$lim")" true

same=0 frames=0 raw_sum=0 ll_sum=0 k_sum=0
for img in "$IMAGES"/*.png; do
	name=$(basename "$img" .png)
	r=$(run blobs "$img" --no-compress)
	[[ $r == FAILED* ]] && { not_ok "$name: blobs on the raw frame"; diag "$r"; continue; }
	read -r px wire_raw <<<"$r"
	((px >= 16 + 4096)) || continue		# not a camera frame (palette_color: 10 x 10)
	frames=$((frames + 1))
	mv "$EP_TMP/out" "$EP_TMP/raw.out"
	read -r _ wire_ll <<<"$(run blobs "$img" --frame-codec 0)"
	mv "$EP_TMP/out" "$EP_TMP/ll.out"
	read -r _ wire_k <<<"$(run blobs "$img" --frame-codec 2)"
	diag "$name: $(head -1 "$EP_TMP/raw.out"); raw $wire_raw B, lossless $wire_ll B, k=2 $wire_k B"
	raw_sum=$((raw_sum + wire_raw)) ll_sum=$((ll_sum + ${wire_ll:-0})) k_sum=$((k_sum + ${wire_k:-0}))
	# The whole result: count, level, every blob's area, box and centroid.
	if cmp -s "$EP_TMP/raw.out" "$EP_TMP/ll.out" && cmp -s "$EP_TMP/raw.out" "$EP_TMP/out" &&
		((${wire_ll:-1000000000} < wire_raw && ${wire_k:-1000000000} < wire_ll)); then
		same=$((same + 1))
	else
		diag "$name: differs: $(diff "$EP_TMP/raw.out" "$EP_TMP/out" | head -3)"
	fi
done
check "the real frames were sent ($frames)" test "$frames" -ge 6
expect_eq "every real frame: the same blobs (count, level, boxes) raw, lossless and k=2, each smaller" \
	"$same" "$frames"
check "k=2 saves at least 60 % of the raw frames' bytes over the set ($k_sum of $raw_sum)" \
	test $((k_sum * 100)) -le $((raw_sum * 40))
check "lossless saves at least 40 % over the set ($ll_sum of $raw_sum)" \
	test $((ll_sum * 100)) -le $((raw_sum * 60))

# Lossless is exact: sobel of the coded frame is sobel of the raw one.
in_a "$BIN/edgeload" run --to $ADDR_B --type sobel --in "$IMAGES/camera.png" --no-compress \
	--out "$EP_TMP/raw.png" 2>/dev/null
in_a "$BIN/edgeload" run --to $ADDR_B --type sobel --in "$IMAGES/camera.png" --frame-codec 0 \
	--out "$EP_TMP/ll.png" 2>/dev/null
check "sobel of a lossless frame-coded camera.png equals sobel of the raw frame" \
	cmp -s "$EP_TMP/raw.png" "$EP_TMP/ll.png"

# k = 2 where the type takes only lossless (threshold: max_error 0).
out=$(run threshold "$IMAGES/coins.png" --frame-codec 2)
check "k=2 to threshold (max_error 0) is refused with invalid_input" \
	grep -q "invalid_input" "$EP_TMP/run.err"
[[ $out == FAILED* ]] || diag "threshold k=2 answered: $out"
# A payload flagged frame-coded that is none: an error reply, and the runtime lives on.
out=$(in_a "$TOOLS/eptest-send" --to $ADDR_B --type 20 --frame --size 300 --wait-ms 1000 2>&1)
expect_eq "a malformed frame-coded payload gets ERROR decompress_failed" \
	"$(grep -oE 'errors [0-9]+ kind [a-z_]+ status [a-z_]+' <<<"$out")" \
	"errors 1 kind error status decompress_failed"
raw=$(run blobs "$IMAGES/coins.png" --frame-codec 2)
check "the runtime still answers after it" test "${raw:0:6}" != FAILED
tap_done
