/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */
#ifndef TROUPE_VERSION_H
#define TROUPE_VERSION_H

/* The CMake build reads the version from these three lines. */
#define TR_VERSION_MAJOR 0
#define TR_VERSION_MINOR 1
#define TR_VERSION_PATCH 0

#define TR_VERSION_NUMBER \
	(TR_VERSION_MAJOR * 10000 + TR_VERSION_MINOR * 100 + TR_VERSION_PATCH)

#endif /* TROUPE_VERSION_H */
