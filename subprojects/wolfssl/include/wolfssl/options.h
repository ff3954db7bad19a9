/* wolfssl/options.h shim for gatehouse's meson build of wolfSSL.
 *
 * wolfSSL's autotools build generates this header with the configured
 * defines. This build is configured with WOLFSSL_USER_SETTINGS instead
 * (include/user_settings.h + the compile args exported by wolfssl_dep), so
 * the usual "#include <wolfssl/options.h>" first-line idiom just pulls in
 * settings.h, which reads user_settings.h. */
#ifndef GATEHOUSE_WOLFSSL_OPTIONS_H
#define GATEHOUSE_WOLFSSL_OPTIONS_H
#include <wolfssl/wolfcrypt/settings.h>
#endif
