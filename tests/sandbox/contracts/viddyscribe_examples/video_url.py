import requests

response = requests.post(
    "https://api.viddyscribe.com/enterprise/api/generate_ad_video",
    headers={"X-API-Key": "vsk_your_api_key_here"},
    json={
        "input": {"type": "url", "url": "https://example.com/video.mp4"},
        "generation_config": {
            "language": "en-US",
            "voice": "Achernar",
            "ad_type": "extended_ad",
            "format": "vtt",
            "custom_instructions": "Keep descriptions concise and focus on on-screen text.",
        },
    },
)
print(response.json())
