/* SPDX-License-Identifier: MIT */
/* Copyright 2026 The troupe authors */

/*
 * fuzz_term_replay: runs the fuzz target over every file of the seed
 * corpus directories given (and over every prefix of each, which a
 * truncated network read would give), as an ordinary test.
 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
main(int argc, char **argv)
{
	int files = 0;
	for (int a = 1; a < argc; a++) {
		DIR *dir = opendir(argv[a]);
		if (dir == NULL) {
			fprintf(stderr, "replay: cannot open %s\n", argv[a]);
			return 1;
		}
		struct dirent *e;
		while ((e = readdir(dir)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[a],
			    e->d_name);
			FILE *f = fopen(path, "rb");
			if (f == NULL)
				continue;
			uint8_t *buf = malloc(1 << 20);
			size_t n = fread(buf, 1, 1 << 20, f);
			fclose(f);
			for (size_t k = 0; k <= n; k++) {
				/* A copy of exactly k bytes: ASan sees overreads. */
				uint8_t *c = malloc(k + 1);
				for (size_t i = 0; i < k; i++)
					c[i] = buf[i];
				LLVMFuzzerTestOneInput(c, k);
				free(c);
			}
			free(buf);
			files++;
		}
		closedir(dir);
	}
	printf("replayed %d files\n", files);
	return files > 0 ? 0 : 1;
}
