"""Booting upstart-py as PID 1 of a real kernel in qemu (issue #16).

`vm.image` fetches the kernel and builds the initramfs (cached under
vm/.cache/), `vm.qemu` runs one VM and captures its serial console, and
`vm.boot` is the `make vm-boot` check. See docs/boot.md.
"""
