/* bcryptprimitives.dll for Wine 8, which lacks it: Rust's std (1.78 and
 * later) asks ProcessPrng for random bytes (HashMap keys). Forwarded to
 * RtlGenRandom (advapi32's SystemFunction036), which Wine has. Test-only:
 * scripts/test-platforms.sh puts the DLL next to the .exe it runs under
 * Wine; it is never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
