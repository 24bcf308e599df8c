# Source: https://www.mercadream.com/api.html, "SDKs & Libraries" > Python (the same text as
# /work/shared/api-docs/mercadream.txt, where extraction put it on one line; its comments are
# restored to their own lines here, nothing else changed).
# Install pip install mercadream
# Initialize
from mercadream import MercaClient
client = MercaClient("mk_live_your_key")
# Generate video
job = client.generate(
    prompt="Neon rain on Tokyo streets at midnight",
    resolution="4k",
    duration=30,
    style="cinematic"
)
# Wait for completion
result = client.jobs.wait(job.id)
print(result.download_url)
