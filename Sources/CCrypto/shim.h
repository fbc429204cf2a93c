// OpenSSL's libcrypto (Debian's libssl-dev): SHA-256 and HMAC-SHA256 for the webhook's signatures.
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

/// A started HMAC-SHA256 over `key` (EVP_MAC, OpenSSL 3's interface; HMAC_CTX is deprecated),
/// or NULL. Parts go in with EVP_MAC_update, the 32 bytes come out with EVP_MAC_final.
static inline EVP_MAC_CTX *gw_hmac_sha256_start(const unsigned char *key, size_t length) {
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (mac == NULL) return NULL;
    EVP_MAC_CTX *context = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);  /* the context holds its own reference */
    if (context == NULL) return NULL;
    char digest[] = "SHA256";
    OSSL_PARAM parameters[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    static const unsigned char empty = 0;
    if (EVP_MAC_init(context, length ? key : &empty, length, parameters) != 1) {
        EVP_MAC_CTX_free(context);
        return NULL;
    }
    return context;
}
