// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* placeholder replaced below */
int main(void) { return 0; }
