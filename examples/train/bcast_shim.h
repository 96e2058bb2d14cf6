/* TEMPORARY: removed when tcoll_bcast lands.
 * The prototype tcoll.h will carry; force-included into the tcoll-train
 * sources by the one shim line of examples/train/meson.build. An identical
 * redeclaration is harmless if tcoll.h already has it. */
#ifndef TRAIN_BCAST_SHIM_H
#define TRAIN_BCAST_SHIM_H
#include "tcoll.h"
TCOLL_API tcoll_status tcoll_bcast(tcoll_comm *c, void *buf, size_t count, tcoll_dtype dtype,
                                   int root);
#endif
