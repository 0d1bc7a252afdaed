#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Reflection: no reply to a source that has not validated its address is larger than 3
# times what that source sent (docs/protocol.md 3.7). eptest-amp sends, from fresh
# sockets, the requests that make each built-in handler's reply largest for the fewest
# bytes, and cached replays of a large result; it measures UDP payload bytes back over
# bytes sent, completes every task with the token the node hands out, and runs each task
# through the client library too.
source "$(dirname "$0")/../lib/lib.sh"
need_root "AF_XDP runtime on veth"

IMAGES=$BUILD/data/images
ep_setup_or_bail
ep_wide_model "$EP_TMP/wide.epm" || ep_bail "mkmodel, and sign the model"
ep_amp_conf "$EP_TMP/wide.epm" "cache: { window_ms = 10000; };" >"$EP_TMP/rt.conf"
ep_runtime_or_bail "the runtime starts" "$EP_TMP/rt.log" -c "$EP_TMP/rt.conf"
ok "the runtime starts with the default validation mode"


in_a "$TOOLS/eptest-amp" --to $ADDR_B --infer-in 4 >"$EP_TMP/amp.out" 2>&1
tap_from "$EP_TMP/amp.out" ""
in_a "$TOOLS/eptest-amp" --to $ADDR6_B --only matmul >"$EP_TMP/amp6.out" 2>&1
tap_from "$EP_TMP/amp6.out" "IPv6: "

tap_done
