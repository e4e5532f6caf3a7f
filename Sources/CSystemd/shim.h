#ifndef POHMELFS_CSYSTEMD_SHIM_H
#define POHMELFS_CSYSTEMD_SHIM_H
#include <systemd/sd-daemon.h>
#endif
