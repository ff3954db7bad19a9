/* gatehouse_random.c - wolfCrypt's random source in gatehouse's build
 * (CUSTOM_RAND_GENERATE_BLOCK in include/user_settings.h): the kernel's
 * CSPRNG through getrandom(2), with no DRBG state in wolfSSL at all. */
#include <errno.h>
#include <sys/random.h>
#include <sys/types.h>

int gatehouse_random_block(unsigned char *output, unsigned int size);

/* 0 on success, -1 when the kernel cannot give random bytes (wolfCrypt then
 * fails the operation that asked: no key, no signature, no handshake). */
int gatehouse_random_block(unsigned char *output, unsigned int size)
{
    while (size > 0) {
        /* flags 0: blocks only until the kernel's pool is first seeded */
        ssize_t got = getrandom(output, size, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        output += got;
        size -= (unsigned int)got;
    }
    return 0;
}
