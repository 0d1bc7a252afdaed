#!/bin/sh
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# /etc/ep/serve.sh in the VM guests (vm/vm.sh up --run serve): start the runtime on eth0,
# AF_XDP behind the classifier (native XDP if virtio_net takes it, else generic), with the
# built-in handlers, and wait until it is ready. Its log: /var/log/edgeplane.log and the
# console.
#
# Every queue pair of the NIC is enabled first. virtio_net starts with one per vCPU, and
# attaching an XDP program enables one more per vCPU, reserved for XDP_TX; the tap spreads
# flows over every enabled queue. The runtime counts its RX queues again once the
# classifier is attached, so it has a socket on each, but AF_XDP replies sent on the
# queues virtio_net reserved for XDP_TX go astray (half the tasks time out). With every
# pair enabled beforehand the count does not change and virtio_net runs XDP_TX in its
# shared ("locked") TX mode, which AF_XDP does not use.
max=$(ethtool -l eth0 2>/dev/null | awk '/^Combined:/ { print $2; exit }')
if [ -n "$max" ] && [ "$max" -gt 1 ] 2>/dev/null; then
	ethtool -L eth0 combined "$max" 2>/dev/null || echo "ep-vm: ethtool -L eth0 combined $max failed"
fi
# The VM tests send tasks without device authentication (they are about the data path).
ep-bg edgeplane edgeplane -i eth0 --auth-mode off --stats-socket /run/edgeplane/runtime/stats.sock \
	--ready-file /run/edgeplane.ready
if ep-wait /var/log/edgeplane.log 'ready:|not started' 120 | grep -q 'ready:'; then
	echo "ep-vm: runtime ready on eth0"
else
	echo "ep-vm: the runtime did not start"
	exit 1
fi
