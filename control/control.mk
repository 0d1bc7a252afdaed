# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The controller and edgectl arrive with the control-plane issue.
