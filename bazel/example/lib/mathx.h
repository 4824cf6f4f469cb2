#pragma once
#ifdef __cplusplus
extern "C" {
#endif

#define MATHX_FACTOR 6
int mathx_scale(int x);

#ifdef __cplusplus
}
#endif
